package checklist

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/alerts"
	"github.com/deployctl/deployctl/pkg/analysis/prometheus/promtest"
)

const alertRules = `groups:
- name: api
  rules:
  - alert: HighErrorRate
    expr: sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m])) > 0.01
    for: 2m
  - alert: HighLatency
    expr: histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m]))) > 0.5
    for: 2m
`

const firingRule = `groups:
- name: always
  rules:
  - alert: APIErrorBudgetBurn
    expr: vector(1) > 0
`

func TestMonitoringRealPrometheus(t *testing.T) {
	withRules := promtest.Start(t, promtest.Options{Rules: map[string]string{"api.yml": alertRules}})
	without := promtest.Start(t, promtest.Options{})
	cases := []struct {
		name   string
		url    string
		alerts []string
		status Status
		want   string
	}{
		{"rules recognised by expression, five rows not covered", withRules.URL, nil, Fail,
			"no loaded alert rule covers 5 of the 7 thresholds: slow queries > 1s, database disk > 80%, CPU > 80%, memory > 80%, disk > 85%"},
		{"named rules", withRules.URL, []string{"HighErrorRate", "HighLatency"}, Pass, "Prometheus reachable, error-rate and latency alerts loaded"},
		{"named rule missing", withRules.URL, []string{"HighErrorRate", "SlowCheckout"}, Fail, "no alert rule for alert SlowCheckout"},
		{"no rules", without.URL, nil, Fail, "no loaded alert rule covers 7 of the 7 thresholds: error rate > 1%, P95 latency > 500ms, slow queries > 1s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := MonitoringCheck{URL: tc.url, Alerts: tc.alerts, Now: time.Now}.run(t.Context())
			if o.Status != tc.status || !strings.Contains(o.Summary, tc.want) {
				t.Fatalf("got %s %q, want %s %q\n%v", o.Status, o.Summary, tc.status, tc.want, o.Evidence)
			}
			if !strings.Contains(o.Evidence[0], "/api/v1/rules at ") {
				t.Errorf("evidence %v", o.Evidence)
			}
		})
	}
}

// An alert firing now is a warning: look before you deploy.
func TestMonitoringFiringAlertWarns(t *testing.T) {
	p := promtest.Start(t, promtest.Options{Rules: map[string]string{"api.yml": alertRules, "burn.yml": firingRule}})
	c := MonitoringCheck{URL: p.URL, Alerts: []string{"HighLatency", "APIErrorBudgetBurn"}, Now: time.Now}
	deadline := time.Now().Add(20 * time.Second)
	for {
		o := c.run(t.Context())
		if o.Status == Warn {
			if !strings.Contains(o.Summary, "firing now: APIErrorBudgetBurn") {
				t.Fatalf("%+v", o)
			}
			return
		}
		if o.Status != Pass || time.Now().After(deadline) {
			t.Fatalf("never warned: %+v", o)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestMonitoringUnreachableAndWrongURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	o := MonitoringCheck{URL: url, Now: time.Now}.run(t.Context())
	if o.Status != Fail || !strings.Contains(o.Summary, "HTTP 404 without a Prometheus rules list") {
		t.Fatalf("not Prometheus: %+v", o)
	}
	srv.Close()
	o = MonitoringCheck{URL: strings.Replace(url, "http://", "http://u:s3cret@", 1), Now: time.Now}.run(t.Context())
	if o.Status != Fail || !strings.Contains(o.Summary, "cannot reach Prometheus at http://u:xxxxx@") || strings.Contains(o.Summary, "s3cret") {
		t.Fatalf("unreachable: %+v", o)
	}
	if o := (MonitoringCheck{Now: time.Now}).run(t.Context()); o.Status != Fail || o.Summary != "not configured" {
		t.Fatalf("no URL: %+v", o)
	}
}

// generatedRules is the rule file of `deployctl render alerts` for s,
// without the rules named in drop.
func generatedRules(t *testing.T, s alerts.Settings, drop ...string) string {
	t.Helper()
	f, err := alerts.Generate(s)
	if err != nil {
		t.Fatal(err)
	}
	var kept []alerts.Rule
	for _, r := range f.Groups[0].Rules {
		if !slices.Contains(drop, r.Alert) {
			kept = append(kept, r)
		}
	}
	f.Groups[0].Rules = kept
	out, err := f.YAML("")
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// The generated rules cover every row of the table; with one row's rule
// removed, the check fails naming that row, and only it.
func TestMonitoringCoversEveryRowOfTheTable(t *testing.T) {
	all := promtest.Start(t, promtest.Options{Rules: map[string]string{"deployctl.yml": generatedRules(t, alerts.Settings{Env: "production"})}})
	noCPU := promtest.Start(t, promtest.Options{Rules: map[string]string{"deployctl.yml": generatedRules(t, alerts.Settings{Env: "production"}, "NodeCPUHigh")}})
	all.WaitRules(t)
	o := MonitoringCheck{URL: all.URL, Now: time.Now}.run(t.Context())
	if o.Status != Pass || o.Summary != "Prometheus reachable, alert rules cover all 7 thresholds" {
		t.Fatalf("all rules: %+v", o)
	}
	if ev := strings.Join(o.Evidence, "\n"); !strings.Contains(ev, "CPU > 80%: alert NodeCPUHigh (inactive, health ok)") || !strings.Contains(ev, "disk > 85%: alert NodeDiskUsage") {
		t.Errorf("evidence:\n%s", ev)
	}
	o = MonitoringCheck{URL: noCPU.URL, Now: time.Now}.run(t.Context())
	if o.Status != Fail || o.Summary != "no loaded alert rule covers 1 of the 7 thresholds: CPU > 80%" || !strings.Contains(o.Fix, "deployctl render alerts") {
		t.Fatalf("CPU rule removed: %+v", o)
	}
}

// A row is covered with the environment's threshold, not any threshold:
// rules rendered for 80% CPU and 1% errors do not cover 90% and 2% (and say
// to render again); a rule of another name on the row's metric with its
// threshold does.
func TestMonitoringCoverageFollowsTheThresholds(t *testing.T) {
	strict := alerts.Settings{Thresholds: alerts.Thresholds{CPU: 0.9, ErrorRate: 0.02}}
	stale := promtest.Start(t, promtest.Options{Rules: map[string]string{"deployctl.yml": generatedRules(t, alerts.Settings{})}})
	o := MonitoringCheck{URL: stale.URL, Monitoring: strict, Now: time.Now}.run(t.Context())
	want := "no loaded alert rule covers 2 of the 7 thresholds: error rate > 2% (HighErrorRate compares with another threshold: render the alerts again), CPU > 90% (NodeCPUHigh compares with another threshold: render the alerts again)"
	if o.Status != Fail || o.Summary != want {
		t.Fatalf("thresholds moved: %+v", o)
	}
	own := `groups:
- name: ops
  rules:
  - alert: BusyNodes
    expr: 100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))) > 90
`
	p := promtest.Start(t, promtest.Options{Rules: map[string]string{"deployctl.yml": generatedRules(t, strict, "NodeCPUHigh"), "ops.yml": own}})
	o = MonitoringCheck{URL: p.URL, Monitoring: strict, Now: time.Now}.run(t.Context())
	if o.Status != Pass || !strings.Contains(strings.Join(o.Evidence, "\n"), "CPU > 90%: alert BusyNodes") {
		t.Fatalf("own rule by expression: %+v", o)
	}
}

func TestMonitoringBadThresholdIsNamed(t *testing.T) {
	o := MonitoringCheck{URL: "http://127.0.0.1:1", Monitoring: alerts.Settings{Thresholds: alerts.Thresholds{Memory: 80}}, Now: time.Now}.run(t.Context())
	if o.Status != Fail || !strings.Contains(o.Summary, "monitoring.thresholds.memory 80 must be a fraction") {
		t.Fatalf("%+v", o)
	}
}
