package checklist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// MonitoringCheck: Prometheus answers, and alert rules for the error rate
// and the latency are loaded and evaluate without errors. Alerts names the
// rules that must be there; when empty, the rules are recognised by their
// expression (5xx codes; a histogram quantile or a duration metric).
type MonitoringCheck struct {
	URL        string
	Alerts     []string
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

var (
	errorRateExpr = regexp.MustCompile(`5\.\.|5xx|5\[0-9\]|error`)
	latencyExpr   = regexp.MustCompile(`histogram_quantile|duration|latency`)
)

func (c MonitoringCheck) run(ctx context.Context) Outcome {
	if c.URL == "" {
		return Outcome{Status: Fail, Summary: "not configured",
			Fix: "set checklist.monitoring.prometheus_url (or analysis.prometheus_url), or waive monitoring"}
	}
	rules, ev, err := c.rules(ctx)
	o := Outcome{Evidence: ev}
	if err != nil {
		o.Status, o.Summary = Fail, err.Error()
		o.Fix = "start Prometheus or fix checklist.monitoring.prometheus_url"
		return o
	}
	var probs []string
	var firing []string
	for _, want := range c.wanted() {
		r, ok := want.find(rules)
		switch {
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
	switch {
	case len(probs) > 0:
		o.Status, o.Summary = Fail, strings.Join(probs, "; ")
		o.Fix = "load alert rules for the error rate (> 1%) and P95 latency (> 500ms) into Prometheus (rule_files), or name yours in checklist.monitoring.alerts"
	case len(firing) > 0:
		o.Status, o.Summary = Warn, "alert rules loaded, but firing now: "+strings.Join(firing, ", ")
		o.Fix = "look at what fires before you deploy"
	default:
		o.Status, o.Summary = Pass, "Prometheus reachable, error-rate and latency alerts loaded"
	}
	return o
}

type wantedAlert struct {
	what string
	name string         // a configured name, or
	expr *regexp.Regexp // a recognisable expression
}

func (w wantedAlert) label() string {
	if w.name != "" {
		return ""
	}
	return w.what + ": "
}

func (w wantedAlert) find(rules []alertRule) (alertRule, bool) {
	for _, r := range rules {
		if (w.name != "" && r.Name == w.name) || (w.name == "" && w.expr.MatchString(strings.ToLower(r.Name+" "+r.Query))) {
			return r, true
		}
	}
	return alertRule{}, false
}

func (c MonitoringCheck) wanted() []wantedAlert {
	if len(c.Alerts) == 0 {
		return []wantedAlert{{what: "error rate", expr: errorRateExpr}, {what: "latency", expr: latencyExpr}}
	}
	var out []wantedAlert
	for _, a := range c.Alerts {
		out = append(out, wantedAlert{what: "alert " + a, name: a})
	}
	return out
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
