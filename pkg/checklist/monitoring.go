package checklist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/deployctl/deployctl/pkg/alerts"
)

// MonitoringCheck: Prometheus answers, and alert rules covering every row
// of the reference deployment's alert table are loaded and evaluate without
// errors. A loaded rule covers a row by its name (deployctl render alerts)
// or by its expression: the row's metrics compared with its threshold.
// Alerts, when set, names the rules that must be there instead.
type MonitoringCheck struct {
	URL    string
	Alerts []string
	// Monitoring is the environment's monitoring section: the thresholds
	// and queries of the rows (the zero value: the reference values).
	Monitoring alerts.Settings
	HTTPClient *http.Client
	Now        func() time.Time
}

// Check returns the check for the runner.
func (c MonitoringCheck) Check() Check { return Check{ID: Monitoring, Run: c.run} }

type alertRule struct {
	Name      string `json:"name"`
	Query     string `json:"query"`
	Health    string `json:"health"`
	LastError string `json:"lastError"`
	State     string `json:"state"`
	Type      string `json:"type"`
}

func (c MonitoringCheck) run(ctx context.Context) Outcome {
	if c.URL == "" {
		return Outcome{Status: Fail, Summary: "not configured",
			Fix: "set checklist.monitoring.prometheus_url (or analysis.prometheus_url), or waive monitoring"}
	}
	wanted, err := c.wanted()
	if err != nil {
		return Outcome{Status: Fail, Summary: err.Error(), Fix: "fix the monitoring section of the environment file (docs/monitoring.md)"}
	}
	rules, ev, err := c.rules(ctx)
	o := Outcome{Evidence: ev}
	if err != nil {
		o.Status, o.Summary = Fail, err.Error()
		o.Fix = "start Prometheus or fix checklist.monitoring.prometheus_url"
		return o
	}
	var probs, uncovered, firing []string
	for _, want := range wanted {
		r, ok := want.find(rules)
		switch {
		case !ok && want.row != nil:
			uncovered = append(uncovered, want.what+want.stale(rules))
		case !ok:
			probs = append(probs, "no alert rule for "+want.what)
		case r.Health == "err":
			probs = append(probs, fmt.Sprintf("alert %s fails to evaluate: %s", r.Name, r.LastError))
		default:
			o.Evidence = append(o.Evidence, fmt.Sprintf("%salert %s (%s, health %s): %s", want.label(), r.Name, r.State, r.Health, r.Query))
			if r.State == "firing" {
				firing = append(firing, r.Name)
			}
		}
	}
	if len(uncovered) > 0 {
		probs = append([]string{fmt.Sprintf("no loaded alert rule covers %d of the %d thresholds: %s", len(uncovered), len(wanted), strings.Join(uncovered, ", "))}, probs...)
	}
	switch {
	case len(probs) > 0:
		o.Status, o.Summary = Fail, strings.Join(probs, "; ")
		o.Fix = "load the rules of `deployctl render alerts` into Prometheus (rule_files; -o kubernetes for the prometheus-operator), or name yours in checklist.monitoring.alerts (docs/monitoring.md)"
		if len(c.Alerts) > 0 {
			o.Fix = "load the alert rules named in checklist.monitoring.alerts into Prometheus (rule_files), or fix their names there"
		}
	case len(firing) > 0:
		o.Status, o.Summary = Warn, "alert rules loaded, but firing now: "+strings.Join(firing, ", ")
		o.Fix = "look at what fires before you deploy"
	case len(c.Alerts) > 0:
		o.Status, o.Summary = Pass, "Prometheus reachable, error-rate and latency alerts loaded" // as before rows were checked
	default:
		o.Status, o.Summary = Pass, fmt.Sprintf("Prometheus reachable, alert rules cover all %d thresholds", len(wanted))
	}
	return o
}

type wantedAlert struct {
	what string
	name string              // a configured name, or
	row  *alerts.Expectation // a row of the alert table
}

func (w wantedAlert) label() string {
	if w.row == nil {
		return ""
	}
	return w.what + ": "
}

func (w wantedAlert) find(rules []alertRule) (alertRule, bool) {
	for _, r := range rules {
		if (w.row == nil && r.Name == w.name) || (w.row != nil && w.row.CoveredBy(r.Name, r.Query)) {
			return r, true
		}
	}
	return alertRule{}, false
}

// stale names a rule that has the row's name but another threshold.
func (w wantedAlert) stale(rules []alertRule) string {
	for _, r := range rules {
		if w.row.Stale(r.Name, r.Query) {
			return fmt.Sprintf(" (%s compares with another threshold: render the alerts again)", r.Name)
		}
	}
	return ""
}

func (c MonitoringCheck) wanted() ([]wantedAlert, error) {
	var out []wantedAlert
	if len(c.Alerts) > 0 {
		for _, a := range c.Alerts {
			out = append(out, wantedAlert{what: "alert " + a, name: a})
		}
		return out, nil
	}
	rows, err := alerts.Expectations(c.Monitoring)
	if err != nil {
		return nil, err
	}
	for i := range rows {
		out = append(out, wantedAlert{what: rows[i].Want(), row: &rows[i]})
	}
	return out, nil
}

// rules reads the alerting rules Prometheus has loaded.
func (c MonitoringCheck) rules(ctx context.Context) ([]alertRule, []string, error) {
	u, err := url.Parse(c.URL)
	if err != nil || u.Host == "" {
		return nil, nil, fmt.Errorf("checklist.monitoring.prometheus_url %q is not a URL", c.URL)
	}
	shown := u.Redacted()
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/v1/rules"
	u.RawQuery = "type=alert"
	client := c.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	start := c.Now()
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, nil, fmt.Errorf("cannot reach Prometheus at %s: %v", shown, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	var doc struct {
		Status string `json:"status"`
		Data   struct {
			Groups []struct {
				Name  string      `json:"name"`
				Rules []alertRule `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.Status != "success" {
		return nil, nil, fmt.Errorf("%s/api/v1/rules answered HTTP %d without a Prometheus rules list", shown, resp.StatusCode)
	}
	var rules []alertRule
	for _, g := range doc.Data.Groups {
		for _, r := range g.Rules {
			if r.Type == "alerting" || r.Type == "" {
				rules = append(rules, r)
			}
		}
	}
	ev := fmt.Sprintf("read %s/api/v1/rules at %s in %s: %d alert rule(s) in %d group(s)", shown, start.UTC().Format(time.RFC3339), round(c.Now().Sub(start)), len(rules), len(doc.Data.Groups))
	return rules, []string{ev}, nil
}
