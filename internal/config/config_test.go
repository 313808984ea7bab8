package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/all"
	"github.com/deployctl/deployctl/pkg/provider/aws"
	"github.com/deployctl/deployctl/pkg/provider/local/proxy"
)

func load(t *testing.T, dir, env string, environ ...string) (*Loaded, error) {
	t.Helper()
	return Load(Options{Env: env, Dir: dir, Environ: environ, Providers: all.Registry()})
}

// localTraffic is the traffic.local section as the local provider reads it.
func localTraffic(t *testing.T, l *Loaded) *proxy.Settings {
	t.Helper()
	s := proxy.DefaultSettings()
	if err := l.Decode("traffic.local", s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLoadFileAndDefaults(t *testing.T) {
	l, err := load(t, "testdata/envs", "development")
	if err != nil {
		t.Fatal(err)
	}
	c := l.Config
	if lt := localTraffic(t, l); lt.Slots.Blue.URL != "http://127.0.0.1:3001" || lt.Slots.Green.URL != "http://127.0.0.1:3002" {
		t.Errorf("slots: %+v (green must come from the defaults)", lt.Slots)
	}
	if c.Health.Timeout != 2*time.Second || c.Health.ReadinessPath != "/health/readiness" {
		t.Errorf("health: %+v", c.Health)
	}
	if c.Checklist.Performance.MaxAge != 14*24*time.Hour || c.Checklist.Backups.MaxAge != 26*time.Hour {
		t.Errorf("durations with days: %+v %+v", c.Checklist.Performance, c.Checklist.Backups)
	}
	if c.Backup.Retention.Daily != 3 || c.Backup.Retention.Weekly != 4 {
		t.Errorf("retention: %+v", c.Backup.Retention)
	}
	if len(c.Variables.Sources) != 2 || c.Variables.Sources[0]["type"] != "dotenv" {
		t.Errorf("sources: %+v", c.Variables.Sources)
	}
	if len(c.Checklist.Waivers) != 1 || c.Checklist.Waivers[0].Reason != "scanner down" {
		t.Errorf("waivers: %+v", c.Checklist.Waivers)
	}
	if len(l.Warnings) != 0 {
		t.Errorf("unexpected warnings: %v", l.Warnings)
	}
}

func TestEnvOverridesNestedKeysNoFileMentions(t *testing.T) {
	l, err := load(t, "testdata/envs", "development",
		"DEPLOYCTL_TRAFFIC_LOCAL_SLOTS_GREEN_URL=http://127.0.0.1:4002",
		"DEPLOYCTL_TRAFFIC_LOCAL_LISTEN=127.0.0.1:9000",
		"DEPLOYCTL_TRAFFIC_AWS_ALB_REGION=eu-west-1",
		"DEPLOYCTL_CHECKLIST_BACKUPS_MAX_AGE=2d",
		"DEPLOYCTL_MAINTENANCE_ALLOW=10.0.0.0/8,192.168.0.0/16",
		"DEPLOYCTL_BACKUP_RETENTION_DAILY=9",
	)
	if err != nil {
		t.Fatal(err)
	}
	c := l.Config
	lt := localTraffic(t, l)
	if lt.Slots.Green.URL != "http://127.0.0.1:4002" {
		t.Errorf("green url: %q", lt.Slots.Green.URL)
	}
	if lt.Listen != "127.0.0.1:9000" {
		t.Errorf("listen (file value must lose to env): %q", lt.Listen)
	}
	var alb aws.ALBSection
	if err := l.Decode("traffic.aws-alb", &alb); err != nil || alb.Region != "eu-west-1" {
		t.Errorf("dashed key: %q (%v)", alb.Region, err)
	}
	if c.Checklist.Backups.MaxAge != 48*time.Hour {
		t.Errorf("max_age: %v", c.Checklist.Backups.MaxAge)
	}
	if len(c.Maintenance.Allow) != 2 || c.Maintenance.Allow[1] != "192.168.0.0/16" {
		t.Errorf("allow list: %v", c.Maintenance.Allow)
	}
	if c.Backup.Retention.Daily != 9 {
		t.Errorf("int override: %d", c.Backup.Retention.Daily)
	}
	var sec struct {
		Listen string `mapstructure:"listen"`
		Slots  map[string]struct {
			URL string `mapstructure:"url"`
		} `mapstructure:"slots"`
	}
	if err := l.Decode("traffic.local", &sec); err != nil {
		t.Fatal(err)
	}
	if sec.Listen != "127.0.0.1:9000" || sec.Slots["green"].URL != "http://127.0.0.1:4002" {
		t.Errorf("provider section must see the overrides: %+v", sec)
	}
}

func TestUnknownKeysWarn(t *testing.T) {
	l, err := load(t, "testdata/envs", "staging", "DEPLOYCTL_TRAFIC_PROVIDER=local")
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(l.Warnings, "\n")
	for _, want := range []string{`"traffic.locl.listen"`, `"healthz.path"`, "DEPLOYCTL_TRAFIC_PROVIDER"} {
		if !strings.Contains(all, want) {
			t.Errorf("no warning naming %s in:\n%s", want, all)
		}
	}
}

func TestUnknownEnvironmentListsKnown(t *testing.T) {
	_, err := load(t, "testdata/envs", "prod")
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("want *config.Error, got %v", err)
	}
	if !strings.Contains(err.Error(), `unknown environment "prod"`) || !strings.Contains(err.Error(), "development, staging") {
		t.Errorf("message: %v", err)
	}
	if strings.Contains(err.Error(), "variables") {
		t.Errorf("the schema file is not an environment: %v", err)
	}
	if _, err := load(t, "testdata/envs", "../envs/development"); err == nil {
		t.Error("path in environment name accepted")
	}
}

func TestMalformedYAMLNamesFileAndLine(t *testing.T) {
	_, err := load(t, "testdata/bad", "broken")
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("want *config.Error, got %v", err)
	}
	if !strings.Contains(err.Error(), "broken.yaml") || !strings.Contains(err.Error(), "line ") {
		t.Errorf("message must name file and line: %v", err)
	}
}

func TestInvalidValuesAreConfigErrors(t *testing.T) {
	_, err := load(t, "testdata/bad", "wrongprov")
	if err == nil || !strings.Contains(err.Error(), `traffic.provider "nginx"`) || !strings.Contains(err.Error(), "error_rate_max") {
		t.Fatalf("want both problems reported: %v", err)
	}
	_, err = load(t, "testdata/envs", "development", "DEPLOYCTL_HEALTH_TIMEOUT=soon")
	if err == nil || !strings.Contains(err.Error(), "soon") {
		t.Fatalf("bad duration override: %v", err)
	}
}

func TestKeysCoverContract(t *testing.T) {
	keys := strings.Join(Keys(all.Registry()), " ")
	for _, k := range []string{"traffic.local.slots.green.url", "traffic.kubernetes.maintenance_service",
		"traffic.aws-alb.slots.blue.target_group_arn", "backup.storage.endpoint", "checklist.monitoring.alerts",
		"analysis.p95_max", "maintenance.notify.from", "migrations.dir", "state.dir",
		"traffic.aws-alb.state.bucket", "traffic.aws-alb.pass_paths", "backup.storage.path", "backup.storage.sse"} {
		if !strings.Contains(" "+keys+" ", " "+k+" ") {
			t.Errorf("key %s missing", k)
		}
	}
	if EnvName("traffic.aws-alb.region") != "DEPLOYCTL_TRAFFIC_AWS_ALB_REGION" {
		t.Error(EnvName("traffic.aws-alb.region"))
	}
}

// An unquoted YAML date or timestamp reaches a string field as written.
func TestUnquotedDatesStayStrings(t *testing.T) {
	dir := t.TempDir()
	doc := "checklist:\n  waivers:\n    - {id: tests, reason: r, expires: 2026-12-31}\n    - {id: security, reason: r, expires: 2026-12-31T18:30:00Z}\n"
	if err := os.WriteFile(filepath.Join(dir, "production.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := load(t, dir, "production")
	if err != nil {
		t.Fatal(err)
	}
	ws := l.Checklist.Waivers
	if len(ws) != 2 || ws[0].Expires != "2026-12-31" || ws[1].Expires != "2026-12-31T18:30:00Z" {
		t.Fatalf("waivers %+v", ws)
	}
}

// The proxy's event loops are a configuration key like any other: its
// variable is no unknown key. A variable that nothing reads is one.
func TestEventLoopsIsAKey(t *testing.T) {
	l, err := load(t, "testdata/envs", "staging", "DEPLOYCTL_TRAFFIC_LOCAL_EVENT_LOOPS=off", "DEPLOYCTL_NO_UPDATE=1")
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(l.Warnings, "\n")
	if strings.Contains(all, "EVENT_LOOPS") || !strings.Contains(all, "DEPLOYCTL_NO_UPDATE") {
		t.Errorf("warnings:\n%s", all)
	}
	if lt := localTraffic(t, l); lt.EventLoops != "off" {
		t.Errorf("traffic.local.event_loops = %q, want off", lt.EventLoops)
	}
}

type acmeSettings struct {
	Host string `mapstructure:"host"`
	Port int    `mapstructure:"port"`
}

func (s *acmeSettings) Validate() error {
	if s.Host == "" {
		return errors.New("traffic.acme.host is empty")
	}
	return nil
}

// A family declares its section once, in the registry: its keys, defaults
// and check reach the configuration without a line in this package.
func TestProviderSectionsComeFromTheRegistry(t *testing.T) {
	reg := provider.NewRegistry()
	reg.Register(&provider.Family{Name: "acme",
		TrafficConfig: &provider.Section{Name: "acme", Settings: func() any { return &acmeSettings{Port: 7} }},
		StorageConfig: &provider.Section{Name: "crate", Settings: func() any {
			return &struct {
				Shelf string `mapstructure:"shelf"`
			}{}
		}},
	})
	keys := " " + strings.Join(Keys(reg), " ") + " "
	for _, k := range []string{"traffic.acme.host", "traffic.acme.port", "backup.storage.shelf", "traffic.provider"} {
		if !strings.Contains(keys, " "+k+" ") {
			t.Errorf("key %s missing from %s", k, keys)
		}
	}
	if strings.Contains(keys, "traffic.local.") || strings.Contains(keys, "backup.storage.path") {
		t.Errorf("keys of unregistered families: %s", keys)
	}
	if d := Defaults(reg)["traffic.acme.port"]; d != 7 {
		t.Errorf("default of traffic.acme.port = %v", d)
	}
	dir := t.TempDir()
	doc := "traffic:\n  provider: acme\nbackup:\n  storage:\n    provider: crate\n"
	if err := os.WriteFile(filepath.Join(dir, "production.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := Options{Env: "production", Dir: dir, Providers: reg}
	if _, err := Load(opts); err == nil || !strings.Contains(err.Error(), "traffic.acme.host is empty") {
		t.Fatalf("the chosen section's check must run at load: %v", err)
	}
	opts.Environ = []string{"DEPLOYCTL_TRAFFIC_ACME_HOST=h1", "DEPLOYCTL_BACKUP_STORAGE_SHELF=top"}
	l, err := Load(opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Warnings) != 0 {
		t.Errorf("the family's variables are keys: %v", l.Warnings)
	}
	var s acmeSettings
	if err := l.Decode("traffic.acme", &s); err != nil || s.Host != "h1" || s.Port != 7 {
		t.Errorf("traffic.acme = %+v (%v), want the override and the default", s, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "production.yaml"), []byte("traffic:\n  provider: local\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(Options{Env: "production", Dir: dir, Providers: reg}); err == nil ||
		!strings.Contains(err.Error(), `traffic.provider "local" is not one of acme`) ||
		!strings.Contains(err.Error(), `backup.storage.provider "file" is not one of crate`) {
		t.Errorf("names the registry does not know: %v", err)
	}
}

// A misspelt DEPLOYCTL_ variable gets a "did you mean" (finding 10 of the
// operator-experience issue); one far from every key only the warning.
func TestMisspeltVariableSuggestsTheKey(t *testing.T) {
	l, err := load(t, "testdata/envs", "staging", "DEPLOYCTL_TRAFIC_LOCAL_LISTEN=127.0.0.1:9", "DEPLOYCTL_NO_UPDATE=1")
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(l.Warnings, "\n")
	if !strings.Contains(all, "DEPLOYCTL_TRAFIC_LOCAL_LISTEN matches no configuration key and is ignored; did you mean DEPLOYCTL_TRAFFIC_LOCAL_LISTEN?") ||
		strings.Contains(all, "DEPLOYCTL_NO_UPDATE matches no configuration key and is ignored; did you mean") {
		t.Errorf("warnings:\n%s", all)
	}
}
