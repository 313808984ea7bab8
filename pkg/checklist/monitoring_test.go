package checklist

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

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
		{"recognised rules", withRules.URL, nil, Pass, "Prometheus reachable, error-rate and latency alerts loaded"},
		{"named rules", withRules.URL, []string{"HighErrorRate", "HighLatency"}, Pass, "alerts loaded"},
		{"named rule missing", withRules.URL, []string{"HighErrorRate", "SlowCheckout"}, Fail, "no alert rule for alert SlowCheckout"},
		{"no rules", without.URL, nil, Fail, "no alert rule for error rate; no alert rule for latency"},
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
