package checklist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"github.com/deployctl/deployctl/pkg/timeutil"
)

// PerformanceCheck is the load test: the configured command, and/or the
// JSON summary it writes, against the error-rate and P95 thresholds.
//
// The summary is either deployctl's own {"error_rate": 0.002, "p95_ms":
// 212.5, "at": "2026-11-25T10:00:00Z"} (at optional: the file's time
// otherwise), or k6's --summary-export / handleSummary JSON.
type PerformanceCheck struct {
	Run          string
	Summary      string // path (absolute)
	MaxAge       time.Duration
	ErrorRateMax float64
	P95Max       time.Duration
	Shell        Shell
	Now          func() time.Time
}

// Check returns the check for the runner.
func (c PerformanceCheck) Check() Check { return Check{ID: Performance, Run: c.run} }

// perfSummary is what a load test measured.
type perfSummary struct {
	errorRate float64
	p95       time.Duration
	at        time.Time
	format    string
}

func (c PerformanceCheck) run(ctx context.Context) Outcome {
	var o Outcome
	if c.Run == "" && c.Summary == "" {
		return Outcome{Status: Fail, Summary: "not configured",
			Fix: "set checklist.performance.run (a load test) and/or checklist.performance.summary (its JSON summary), or waive performance"}
	}
	start := c.Now()
	if c.Run != "" {
		r := c.Shell.run(ctx, c.Run)
		o.Evidence = r.evidence(c.Shell.Dir)
		if r.code != 0 {
			return Outcome{Status: Fail, Summary: fmt.Sprintf("the load test `%s` failed (exit %d)", c.Run, r.code), Evidence: o.Evidence,
				Fix: fmt.Sprintf("run `%s` yourself and fix what it reports", c.Run)}
		}
		if c.Summary == "" {
			o.Status, o.Summary = Warn, fmt.Sprintf("`%s` passed; no summary, so the thresholds were not checked here", c.Run)
			o.Fix = "set checklist.performance.summary to the JSON summary the load test writes"
			return o
		}
	}
	s, err := readPerfSummary(c.Summary)
	if err != nil {
		o.Status, o.Summary = Fail, fmt.Sprintf("cannot read the load-test summary %s: %v", c.Summary, err)
		o.Fix = "run the load test so that it writes its JSON summary to " + c.Summary
		if errors.Is(err, os.ErrNotExist) {
			o.Summary = "no load-test summary at " + c.Summary
		}
		return o
	}
	return c.judge(o, s, start)
}

func (c PerformanceCheck) judge(o Outcome, s perfSummary, start time.Time) Outcome {
	age := c.Now().Sub(s.at)
	o.Evidence = append(o.Evidence, fmt.Sprintf("read %s (%s): error rate %s, P95 %s, measured %s (%s ago)",
		c.Summary, s.format, percent(s.errorRate), s.p95, s.at.UTC().Format(time.RFC3339), timeutil.FormatDuration(age.Round(time.Minute))))
	var probs []string
	if c.Run != "" && s.at.Before(start.Add(-time.Second)) {
		probs = append(probs, fmt.Sprintf("`%s` did not write %s", c.Run, c.Summary))
	} else if c.MaxAge > 0 && age > c.MaxAge {
		probs = append(probs, fmt.Sprintf("the load test is %s old (max_age %s)", timeutil.FormatDuration(age.Round(time.Minute)), timeutil.FormatDuration(c.MaxAge)))
	}
	if s.errorRate > c.ErrorRateMax {
		probs = append(probs, fmt.Sprintf("error rate %s > %s", percent(s.errorRate), percent(c.ErrorRateMax)))
	}
	if s.p95 > c.P95Max {
		probs = append(probs, fmt.Sprintf("P95 %s > %s", s.p95, c.P95Max))
	}
	if len(probs) > 0 {
		o.Status, o.Summary = Fail, strings.Join(probs, "; ")
		o.Fix = "run the load test against the new release and fix what makes it slow or failing"
		return o
	}
	o.Status = Pass
	o.Summary = fmt.Sprintf("error rate %s ≤ %s, P95 %s ≤ %s", percent(s.errorRate), percent(c.ErrorRateMax), s.p95, c.P95Max)
	return o
}

func percent(r float64) string {
	return fmt.Sprintf("%s%%", trimFloat(r*100))
}

func trimFloat(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", math.Round(v*1000)/1000), "0"), ".")
}

// readPerfSummary reads deployctl's or k6's JSON summary.
func readPerfSummary(path string) (perfSummary, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return perfSummary{}, err
	}
	var doc struct {
		ErrorRate *float64 `json:"error_rate"`
		P95MS     *float64 `json:"p95_ms"`
		At        string   `json:"at"`
		Metrics   map[string]struct {
			Value  *float64 `json:"value"`
			P95    *float64 `json:"p(95)"`
			Values *struct {
				Rate *float64 `json:"rate"`
				P95  *float64 `json:"p(95)"`
			} `json:"values"`
		} `json:"metrics"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return perfSummary{}, fmt.Errorf("not JSON: %v", err)
	}
	s := perfSummary{format: "deployctl summary"}
	switch {
	case doc.ErrorRate != nil && doc.P95MS != nil:
		s.errorRate, s.p95 = *doc.ErrorRate, ms(*doc.P95MS)
	case doc.Metrics != nil:
		failed, dur := doc.Metrics["http_req_failed"], doc.Metrics["http_req_duration"]
		s.format = "k6 summary"
		rate, p95 := failed.Value, dur.P95
		if failed.Values != nil {
			rate = failed.Values.Rate
		}
		if dur.Values != nil {
			p95 = dur.Values.P95
		}
		if rate == nil || p95 == nil {
			return perfSummary{}, errors.New(`k6 summary without http_req_failed rate and http_req_duration p(95)`)
		}
		s.errorRate, s.p95 = *rate, ms(*p95)
	default:
		return perfSummary{}, errors.New(`want {"error_rate": 0.002, "p95_ms": 212, "at": "RFC 3339"} or a k6 summary`)
	}
	return s, s.setTime(path, doc.At)
}

func (s *perfSummary) setTime(path, at string) error {
	if at != "" {
		t, err := time.Parse(time.RFC3339, at)
		if err != nil {
			return fmt.Errorf("at %q is not an RFC 3339 time", at)
		}
		s.at = t
		return nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	s.at = st.ModTime()
	return nil
}

func ms(v float64) time.Duration {
	return time.Duration(v * float64(time.Millisecond)).Round(time.Microsecond)
}
