package dns

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/testkit"
	"github.com/deployctl/deployctl/internal/testkit/cmdtest"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/aws/route53/r53test"
	"github.com/deployctl/deployctl/pkg/provider/local/statefs"
)

type project struct {
	dir  string
	fake *r53test.Server
}

// newProject is a project whose protected production environment has the
// failover record set at the fake Route 53.
func newProject(t *testing.T) *project {
	t.Helper()
	pollInterval = time.Millisecond
	fake := r53test.Start(t)
	fake.AddFailoverZone()
	dir := testkit.Project(t, map[string]string{"environments/production.yaml": fmt.Sprintf(`protected: true
state: {dir: .deployctl}
dns:
  provider: route53
  route53: {endpoint: %q, hosted_zone_id: %s, record: api.example.com, call_timeout: 10s}
`, fake.URL, r53test.ZoneID)})
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "test-secret", "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE": filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "none"), "AWS_PROFILE": "", "AWS_REGION": ""} {
		t.Setenv(k, v)
	}
	return &project{dir: dir, fake: fake}
}

type run struct {
	out, errOut string
	code        int
	err         error
}

// run runs `dns ARGS` with the global flags set by flags.
func (p *project) run(t *testing.T, ctx context.Context, flags func(*app.GlobalFlags), args ...string) run {
	t.Helper()
	f := cmdtest.Factory()
	f.Flags.Env, f.Flags.ConfigDir, f.Flags.Output = "production", filepath.Join(p.dir, "environments"), "table"
	f.Environ = func() []string { return []string{"DEPLOYCTL_ACTOR=alice"} }
	if flags != nil {
		flags(f.Flags)
	}
	cmd := NewCmdDNS(f)
	cmd.SetContext(ctx)
	err := cmdtest.Execute(cmd, args...)
	out, errOut := cmdtest.Output(f)
	return run{out: out, errOut: errOut, code: app.ExitCode(err), err: err}
}

func confirmed(g *app.GlobalFlags) { g.Yes, g.Confirm = true, "production" }

func asJSON(g *app.GlobalFlags) { g.Output = "json" }

// env is the production environment as the local family sees it.
func (p *project) env() provider.Env {
	return provider.Env{Name: "production", StateDir: filepath.Join(p.dir, ".deployctl")}
}

func (p *project) primary() r53test.RecordSet {
	return *p.fake.Record(r53test.ZoneID, r53test.Record, "A", "api-primary")
}

func TestStatusShowsThePairAndTheirHealth(t *testing.T) {
	p := newProject(t)
	p.fake.SetHealth(r53test.StandbyHealth, r53test.Checkers(8, false)...)
	r := p.run(t, t.Context(), nil, "status")
	if r.err != nil {
		t.Fatal(r.err)
	}
	for _, want := range []string{"api.example.com. A in hosted zone " + r53test.ZoneID, "serving   primary", "PRIMARY", "api-primary", "alias " + r53test.PrimaryALB,
		r53test.PrimaryHealth, "healthy (8/8 checkers)", "SECONDARY", "unhealthy (0/8 checkers)", "503"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("status lacks %q:\n%s", want, r.out)
		}
	}
	r = p.run(t, t.Context(), asJSON, "status")
	var st struct {
		Serving string `json:"serving"`
		Primary struct {
			Target struct {
				Alias struct {
					DNSName string `json:"dns_name"`
				} `json:"alias"`
			} `json:"target"`
			Health struct {
				Status string `json:"status"`
			} `json:"health"`
		} `json:"primary"`
		Secondary struct {
			HealthCheckID string `json:"health_check_id"`
			Health        struct {
				Status string `json:"status"`
			} `json:"health"`
		} `json:"secondary"`
	}
	if err := json.Unmarshal([]byte(r.out), &st); err != nil {
		t.Fatalf("%v: %s", err, r.out)
	}
	if st.Serving != "primary" || st.Primary.Target.Alias.DNSName != r53test.PrimaryALB || st.Primary.Health.Status != "healthy" ||
		st.Secondary.HealthCheckID != r53test.StandbyHealth || st.Secondary.Health.Status != "unhealthy" {
		t.Errorf("status JSON = %+v", st)
	}
}

func TestDryRunPrintsTheExactBatchAndChangesNothing(t *testing.T) {
	p := newProject(t)
	r := p.run(t, t.Context(), func(g *app.GlobalFlags) { g.DryRun = true }, "failover", "--to", "secondary")
	if r.err != nil {
		t.Fatal(r.err)
	}
	for _, want := range []string{`"Action": "DELETE"`, `"Action": "CREATE"`, `"DNSName": "` + r53test.StandbyALB, `"SetIdentifier": "api-primary"`,
		`"HealthCheckId": "` + r53test.PrimaryHealth, "--hosted-zone-id " + r53test.ZoneID} {
		if !strings.Contains(r.out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, r.out)
		}
	}
	if !strings.Contains(r.errOut, "nothing was changed") {
		t.Errorf("stderr = %s", r.errOut)
	}
	if n := len(p.fake.CallsOf("ChangeResourceRecordSets")); n != 0 {
		t.Errorf("a dry run sent %d changes", n)
	}
}

func TestFailoverAndBackInAProtectedEnvironment(t *testing.T) {
	p := newProject(t)
	r := p.run(t, t.Context(), func(g *app.GlobalFlags) { g.Yes = true }, "failover", "--to", "secondary")
	if r.code != app.ExitUsage || !strings.Contains(r.err.Error(), "--confirm production") {
		t.Fatalf("--yes alone in a protected environment: exit %d, %v", r.code, r.err)
	}
	if n := len(p.fake.CallsOf("ChangeResourceRecordSets")); n != 0 {
		t.Fatalf("an unconfirmed failover sent %d changes", n)
	}

	r = p.run(t, t.Context(), func(g *app.GlobalFlags) { confirmed(g); asJSON(g) }, "failover", "--to", "secondary")
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.errOut)
	}
	if !strings.Contains(r.errOut, "switched") || !strings.Contains(r.errOut, "INSYNC") {
		t.Errorf("stderr = %s", r.errOut)
	}
	var res struct {
		Changed  bool   `json:"changed"`
		ChangeID string `json:"change_id"`
		Status   string `json:"status"`
	}
	if err := json.Unmarshal([]byte(r.out), &res); err != nil || !res.Changed || res.Status != "INSYNC" || res.ChangeID == "" {
		t.Fatalf("JSON = %s (%v)", r.out, err)
	}
	if got := p.primary(); got.Alias.DNSName != r53test.StandbyALB {
		t.Fatalf("primary = %+v", got)
	}
	if r = p.run(t, t.Context(), nil, "status"); !strings.Contains(r.out, "serving   secondary") || !strings.Contains(r.out, "original  alias "+r53test.PrimaryALB) {
		t.Errorf("status after failover:\n%s", r.out)
	}

	if r = p.run(t, t.Context(), confirmed, "failover", "--back"); r.err != nil {
		t.Fatal(r.err)
	}
	if got := p.primary(); !reflect.DeepEqual(got, r53test.PrimaryRecord()) {
		t.Fatalf("primary after --back = %+v, want exactly %+v", got, r53test.PrimaryRecord())
	}
	log, _ := statefs.NewHistory(t.Context(), p.env(), nil)
	entries, err := log.List(t.Context(), provider.Filter{Command: "dns"})
	if err != nil || len(entries) != 2 || entries[0].Actor != "alice" || entries[1].Command != "dns failover --to primary" || entries[1].Result != "ok" {
		t.Errorf("history = %+v, %v", entries, err)
	}
}

func TestLockHeldIsExit3(t *testing.T) {
	p := newProject(t)
	l, _ := statefs.NewLocker(t.Context(), p.env(), nil)
	release, err := l.Acquire(t.Context(), provider.Holder{Actor: "bob", Command: "rollout", Since: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	r := p.run(t, t.Context(), confirmed, "failover", "--to", "secondary")
	if r.code != app.ExitLocked || !strings.Contains(r.err.Error(), "bob") {
		t.Fatalf("exit %d, %v", r.code, r.err)
	}
	if n := len(p.fake.CallsOf("ChangeResourceRecordSets")); n != 0 {
		t.Errorf("sent %d changes without the lock", n)
	}
}

func TestTimeoutLeavesItPendingExit1(t *testing.T) {
	p := newProject(t)
	p.fake.SyncAfter = 1 << 30
	r := p.run(t, t.Context(), confirmed, "failover", "--to", "secondary", "--timeout", "50ms")
	if r.code != app.ExitFailed || !strings.Contains(r.err.Error(), "PENDING") || !strings.Contains(r.err.Error(), "aws route53 get-change --id C") {
		t.Fatalf("exit %d, %v", r.code, r.err)
	}
	if !strings.Contains(r.errOut, "waiting until it is INSYNC") {
		t.Errorf("stderr = %s", r.errOut)
	}
}

func TestCtrlCLeavesItPendingExit130(t *testing.T) {
	p := newProject(t)
	p.fake.SyncAfter = 1 << 30
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		for len(p.fake.CallsOf("GetChange")) == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	r := p.run(t, ctx, confirmed, "failover", "--to", "secondary")
	if r.code != app.ExitInterrupted || !strings.Contains(r.err.Error(), "interrupted while the change") || !strings.Contains(r.err.Error(), "deployctl dns status") {
		t.Fatalf("exit %d, %v", r.code, r.err)
	}
}

func TestFlagsAreChecked(t *testing.T) {
	p := newProject(t)
	for _, args := range [][]string{{"failover"}, {"failover", "--to", "sideways"}, {"failover", "--back", "--to", "secondary"}, {"failover", "--to", "primary", "--timeout", "-1s"}, {"status", "extra"}} {
		if r := p.run(t, t.Context(), confirmed, args...); r.code != app.ExitUsage {
			t.Errorf("%v: exit %d, %v", args, r.code, r.err)
		}
	}
	if n := len(p.fake.Ops()); n != 0 {
		t.Errorf("bad flags made %d API calls", n)
	}
}

func TestWithoutADNSSectionIsAConfigurationError(t *testing.T) {
	p := newProject(t)
	testkit.WriteFiles(t, p.dir, map[string]string{"environments/production.yaml": "protected: true\n"})
	r := p.run(t, t.Context(), nil, "status")
	if r.code != app.ExitUsage || !strings.Contains(r.err.Error(), "dns.provider is not set") {
		t.Fatalf("exit %d, %v", r.code, r.err)
	}
}
