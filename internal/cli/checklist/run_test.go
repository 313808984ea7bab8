package checklist_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/internal/app"
	clchecklist "github.com/deployctl/deployctl/internal/cli/checklist"
	"github.com/deployctl/deployctl/internal/testkit"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/analysis/prometheus/promtest"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/local"
	"github.com/deployctl/deployctl/pkg/rollout"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

const alertRules = `groups:
- name: api
  rules:
  - alert: HighErrorRate
    expr: sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m])) > 0.01
  - alert: HighLatency
    expr: histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m]))) > 0.5
`

// factory runs commands in-process on p with a fixed clock.
func factory(p *project, output string) (*app.Factory, *bytes.Buffer, *bytes.Buffer) {
	reg := provider.NewRegistry()
	reg.Register(local.Family())
	f := app.NewFactory(reg)
	ios, _, stdout, stderr := ui.Test()
	f.IO = ios
	f.Flags.Env, f.Flags.ConfigDir, f.Flags.Output = "production", filepath.Join(p.dir, "environments"), output
	f.Environ = func() []string { return p.env }
	f.Now = func() time.Time { return t0 }
	return f, stdout, stderr
}

func runChecklist(t *testing.T, f *app.Factory, args ...string) error {
	t.Helper()
	cmd := clchecklist.NewCmdChecklist(f, nil)
	cmd.SetArgs(append([]string{}, args...)) // nil would make cobra read os.Args
	cmd.SetOut(f.IO.Out)
	cmd.SetErr(f.IO.ErrOut)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	return cmd.ExecuteContext(t.Context())
}

// goldenProject: tests pass, security finds a vulnerability, performance
// passes from its summary, migrations are pending, rollback passes,
// monitoring passes against a real Prometheus, backups are waived.
func goldenProject(t *testing.T) (*project, string) {
	t.Helper()
	prom := promtest.Start(t, promtest.Options{Rules: map[string]string{"api.yml": alertRules}})
	prom.WaitRules(t)
	p := newProject(t, `analysis: {prometheus_url: `+prom.URL+`}
checklist:
  timeout: 1m
  tests: {run: "echo 12 tests passed"}
  security: {run: "echo 'GO-2026-0001: net/http: request smuggling'; exit 3"}
  performance: {summary: perf.json}
  monitoring: {alerts: [HighErrorRate, HighLatency]}
  waivers:
    - {id: backups, reason: "first release: no data yet", expires: 2026-12-31}
`)
	p.write("perf.json", `{"error_rate": 0.004, "p95_ms": 212.5, "at": "2026-11-24T12:00:00Z"}`)
	return p, prom.URL
}

func TestChecklistGolden(t *testing.T) {
	p, promURL := goldenProject(t)
	for _, out := range []string{"table", "json", "junit"} {
		t.Run(out, func(t *testing.T) {
			f, stdout, _ := factory(p, out)
			err := runChecklist(t, f)
			if !errors.Is(err, app.ErrFailed) {
				t.Fatalf("err %v, want app.ErrFailed (exit 1)", err)
			}
			ext := map[string]string{"table": "txt", "json": "json", "junit": "xml"}[out]
			testkit.Golden(t, "checklist."+ext+".golden", p.normalize(stdout.String(), promURL, "{{PROM}}"))
		})
	}
}

// The run and its verdicts are in the history.
func TestChecklistRecordsHistory(t *testing.T) {
	p, _ := goldenProject(t)
	f, _, _ := factory(p, "json")
	f.Flags.Reason = "release 1.4"
	if err := runChecklist(t, f, "--only", "tests,backups"); !errors.Is(err, app.ErrFailed) && err != nil {
		t.Fatal(err)
	}
	h, err := f.History(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	es, err := h.List(t.Context(), provider.Filter{Command: "checklist"})
	if err != nil || len(es) != 1 {
		t.Fatalf("history %+v, err %v", es, err)
	}
	e := es[0]
	after, _ := e.After.(map[string]any)
	if e.Command != "checklist --only tests,backups" || e.Actor != "alice" || e.Reason != "release 1.4" || e.Result != "ok" || after["tests"] != "pass" || after["backups"] != "warn" || len(after) != 2 {
		t.Errorf("entry %+v", e)
	}
}

func TestChecklistBadWaiverIsConfigError(t *testing.T) {
	p := newProject(t, "checklist:\n  waivers:\n    - {id: tests, expires: 2026-12-31}\n")
	f, _, _ := factory(p, "table")
	err := runChecklist(t, f)
	if app.ExitCode(err) != app.ExitUsage || !strings.Contains(err.Error(), "waiver for tests has no reason") {
		t.Fatalf("err %v (exit %d), want exit 2 naming the missing reason", err, app.ExitCode(err))
	}
}

// After a promote the standby is blue: the rollback check reads the rollout
// state's active slot, not the slot names.
func TestChecklistStandbyFollowsRolloutState(t *testing.T) {
	p := newProject(t, "checklist: {rollback: {runbook: docs/runbook.md}}\n")
	p.blueOK = false
	f, stdout, _ := factory(p, "json")
	store, err := f.State(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	st := rollout.Initial()
	st.Active, st.Weights = provider.Green, provider.Weights{provider.Blue: 0, provider.Green: 100}
	raw, _ := json.Marshal(st)
	if err := store.Save(t.Context(), rollout.StateKey, raw, ""); err != nil {
		t.Fatal(err)
	}
	if err := runChecklist(t, f, "--only", "rollback"); !errors.Is(err, app.ErrFailed) {
		t.Fatalf("err %v, want exit 1", err)
	}
	if !strings.Contains(stdout.String(), "the standby slot blue is not healthy") {
		t.Errorf("output:\n%s", stdout)
	}
}

// On a terminal the statuses are coloured; NO_COLOR and pipes get none.
func TestChecklistColourOnlyOnTerminal(t *testing.T) {
	p := newProject(t, "checklist: {tests: {run: \"true\"}, security: {run: \"false\"}}\n")
	for _, tc := range []struct {
		tty, noColor, want bool
	}{{true, false, true}, {true, true, false}, {false, false, false}} {
		f, stdout, _ := factory(p, "table")
		f.IO.StdoutTTY, f.IO.NoColor = tc.tty, tc.noColor
		_ = runChecklist(t, f, "--only", "tests,security")
		if got := strings.Contains(stdout.String(), "\x1b["); got != tc.want {
			t.Errorf("tty %v, NO_COLOR %v: ANSI %v, want %v\n%q", tc.tty, tc.noColor, got, tc.want, stdout)
		}
	}
}
