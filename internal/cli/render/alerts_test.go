package render

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/config"
	"github.com/deployctl/deployctl/internal/testkit/cmdtest"
	"github.com/deployctl/deployctl/pkg/alerts"
	"github.com/deployctl/deployctl/pkg/provider/all"
)

// withMonitoring adds a monitoring section to the test project's environment file.
func withMonitoring(t *testing.T, f *app.Factory, section string) {
	t.Helper()
	p := filepath.Join(f.Flags.ConfigDir, f.Flags.Env+".yaml")
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, append(raw, []byte(section)...), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestParseAlerts(t *testing.T) {
	f, _ := project(t, "staging", "api", "gateway")
	var got *AlertsOptions
	run := func(args ...string) error {
		got = nil
		return cmdtest.Execute(NewCmdRender(f, nil), append([]string{"alerts"}, args...)...)
	}
	cmd := NewCmdAlerts(f, func(o *AlertsOptions) error { got = o; return nil })
	if err := cmdtest.Execute(cmd, "-o", "kubernetes", "--namespace", "monitoring", "--label", "release=prom", "--name", "api"); err != nil ||
		got.Output != "kubernetes" || got.Namespace != "monitoring" || got.Labels["release"] != "prom" || got.Name != "api" {
		t.Fatalf("%+v, %v", got, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-o", "table"}, `invalid --output "table": use rules, kubernetes or json`},
		{[]string{"--label", "release=prom"}, "add -o kubernetes"},
		{[]string{"extra"}, "extra"},
	} {
		if err := run(tc.args...); app.ExitCode(err) != 2 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want exit 2 with %q", tc.args, err, tc.want)
		}
	}
}

// Without a monitoring section the rules carry the reference values; the
// environment's thresholds and queries replace them.
func TestAlertsFollowTheEnvironmentFile(t *testing.T) {
	f, out := project(t, "staging", "api", "gateway")
	if err := cmdtest.Execute(NewCmdRender(f, nil), "alerts"); err != nil {
		t.Fatal(err)
	}
	want, _ := alerts.Generate(alerts.Settings{Env: "staging", DatabaseMountpoint: alerts.DefaultDatabaseMountpoint})
	wantYAML, _ := want.YAML("")
	if !strings.HasSuffix(out.String(), string(wantYAML)) || !strings.HasPrefix(out.String(), "# Alerting rules for staging from monitoring.thresholds in ") {
		t.Fatalf("defaults:\n%s\nwant the reference rules:\n%s", out, wantYAML)
	}

	f, out = project(t, "staging", "api", "gateway")
	withMonitoring(t, f, `monitoring:
  thresholds: {cpu: 0.9, p95_latency: 300ms}
  queries: {error_rate: 'job:http_errors:ratio5m{job="api"}'}
  for: 10m
  runbook_url: https://runbooks.example.com/api
`)
	if err := cmdtest.Execute(NewCmdRender(f, nil), "alerts"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`expr: (job:http_errors:ratio5m{job="api"}) > 0.01`, "[5m])))) > 0.3\n", `[5m]))) > 0.9`, "above the 90% threshold", "above the 300ms threshold",
		"for: 10m", "runbook_url: https://runbooks.example.com/api", "env: staging"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
}

func TestAlertsRefuseBadThresholds(t *testing.T) {
	f, out := project(t, "staging", "api", "gateway")
	withMonitoring(t, f, "monitoring:\n  thresholds: {disk: 85}\n")
	err := cmdtest.Execute(NewCmdRender(f, nil), "alerts")
	if app.ExitCode(err) != 2 || !strings.Contains(err.Error(), "monitoring.thresholds.disk 85 must be a fraction between 0 and 1 (0.8 is 80%)") || out.Len() != 0 {
		t.Fatalf("err %v, output %q", err, out)
	}
}

// -o json is the rule file as JSON: the same groups.
func TestAlertsJSON(t *testing.T) {
	f, out := project(t, "staging", "api", "gateway")
	if err := cmdtest.Execute(NewCmdRender(f, nil), "alerts", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	var doc alerts.File
	if err := json.Unmarshal([]byte(out.String()), &doc); err != nil || len(doc.Groups) != 1 || len(doc.Groups[0].Rules) != 7 || doc.Groups[0].Rules[6].Alert != "NodeDiskUsage" {
		t.Fatalf("%v: %s", err, out)
	}
}

// The repository's environment files, which init writes, hold the
// reference deployment's values.
func TestInitEnvironmentsHoldTheReferenceThresholds(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "environments")
	for _, env := range []string{"development", "staging", "production"} {
		l, err := config.Load(config.Options{Env: env, Dir: dir, Providers: all.Registry()})
		if err != nil {
			t.Fatal(err)
		}
		if got := alerts.Thresholds(l.Monitoring.Thresholds); got != alerts.Reference {
			t.Errorf("%s: monitoring.thresholds %+v, want %+v", env, got, alerts.Reference)
		}
		if _, err := alerts.Generate(alertSettings(l)); err != nil {
			t.Errorf("%s: %v", env, err)
		}
	}
}

// prometheusRule is the shape of the prometheus-operator's CRD
// (monitoring.coreos.com/v1 PrometheusRule): decoding with unknown fields
// refused catches a misspelt or misplaced field.
type prometheusRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Groups []struct {
			Name                    string            `json:"name"`
			Labels                  map[string]string `json:"labels,omitempty"`
			Interval                string            `json:"interval,omitempty"`
			QueryOffset             string            `json:"query_offset,omitempty"`
			PartialResponseStrategy string            `json:"partial_response_strategy,omitempty"`
			Limit                   *int              `json:"limit,omitempty"`
			Rules                   []struct {
				Record        string             `json:"record,omitempty"`
				Alert         string             `json:"alert,omitempty"`
				Expr          intstr.IntOrString `json:"expr"`
				For           string             `json:"for,omitempty"`
				KeepFiringFor string             `json:"keep_firing_for,omitempty"`
				Labels        map[string]string  `json:"labels,omitempty"`
				Annotations   map[string]string  `json:"annotations,omitempty"`
			} `json:"rules"`
		} `json:"groups"`
	} `json:"spec"`
}

// The CRD's pattern for durations.
var crdDuration = regexp.MustCompile(`^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$`)

func TestAlertsPrometheusRuleFitsTheCRD(t *testing.T) {
	f, out := project(t, "production", "api", "gateway")
	if err := cmdtest.Execute(NewCmdRender(f, nil), "alerts", "-o", "kubernetes", "--label", "release=prometheus"); err != nil {
		t.Fatal(err)
	}
	raw, err := sigsyaml.YAMLToJSON([]byte(out.String()))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var pr prometheusRule
	if err := dec.Decode(&pr); err != nil {
		t.Fatalf("not a PrometheusRule: %v\n%s", err, out)
	}
	if pr.APIVersion != "monitoring.coreos.com/v1" || pr.Kind != "PrometheusRule" || pr.Name != "deployctl-production" || pr.Namespace != "api" ||
		pr.Labels["release"] != "prometheus" || pr.Labels["app.kubernetes.io/managed-by"] != "deployctl" {
		t.Fatalf("%+v", pr.TypeMeta)
	}
	if len(pr.Spec.Groups) != 1 || pr.Spec.Groups[0].Name == "" || len(pr.Spec.Groups[0].Rules) != 7 {
		t.Fatalf("groups %+v", pr.Spec.Groups)
	}
	for _, r := range pr.Spec.Groups[0].Rules {
		if r.Alert == "" || r.Record != "" || r.Expr.StrVal == "" || !crdDuration.MatchString(r.For) || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
			t.Errorf("rule %+v does not fit the CRD or lacks a field", r)
		}
	}
}
