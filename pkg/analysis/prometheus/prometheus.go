// Package prometheus judges a rollout slot from Prometheus: the error rate
// and the P95 latency of the slot, each against its threshold, through the
// HTTP API (/api/v1/query). No data, NaN or a failed query is inconclusive,
// never a pass: a gate that lets a rollout through because nobody could
// measure it is worse than no gate (Argo Rollouts #4479).
package prometheus

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/deployctl/deployctl/pkg/analysis"
	"github.com/deployctl/deployctl/pkg/provider"
)

// The default queries; {{slot}} is replaced by the slot's name.
const (
	// A slot that answered requests without a single 5xx has no 5xx series
	// at all: "or vector(0)" makes that 0%, not no data; a slot with no
	// requests (or a wrong metric name) is still no data.
	DefaultErrorRateQuery = `(sum(rate(http_requests_total{slot="{{slot}}",code=~"5.."}[5m])) or vector(0)) / sum(rate(http_requests_total{slot="{{slot}}"}[5m]))`
	DefaultP95Query       = `histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{slot="{{slot}}"}[5m])))`
)

// The reference deployment's thresholds, used when Options leaves them zero.
const (
	DefaultErrorRateMax = 0.01
	DefaultP95Max       = 500 * time.Millisecond
)

// SlotPlaceholder is replaced by the slot's name in a query.
const SlotPlaceholder = "{{slot}}"

// IntervalPlaceholder is replaced by the window analysed, in seconds (such
// as 120s): a traffic step's wait, so that the step is judged by its own
// requests; 5m when no window is given.
const IntervalPlaceholder = "{{interval}}"

// Options configure an Analyzer. Zero values take the defaults above.
type Options struct {
	URL            string // base URL of Prometheus, e.g. http://127.0.0.1:9090
	ErrorRateQuery string // a ratio 0..1
	P95Query       string // seconds
	ErrorRateMax   float64
	P95Max         time.Duration
	HTTPClient     *http.Client
	// Now, when set, is the evaluation time sent as time=; nil lets
	// Prometheus use its own clock (no skew between the two machines).
	Now func() time.Time
}

// Analyzer measures a slot's error rate and P95 latency.
type Analyzer struct {
	o    Options
	base *url.URL
}

var _ analysis.Analyzer = (*Analyzer)(nil)

// New checks o and returns an Analyzer.
func New(o Options) (*Analyzer, error) {
	base, err := url.Parse(strings.TrimSpace(o.URL))
	if o.URL == "" {
		return nil, errors.New("no Prometheus URL: set analysis.prometheus_url")
	}
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("Prometheus URL %q must be an http(s) URL such as http://127.0.0.1:9090", redactURL(o.URL))
	}
	if o.ErrorRateMax < 0 || o.ErrorRateMax > 1 {
		return nil, fmt.Errorf("error rate threshold %v must be a fraction between 0 and 1 (0.01 is 1%%)", o.ErrorRateMax)
	}
	if o.P95Max < 0 {
		return nil, fmt.Errorf("P95 threshold %v must not be negative", o.P95Max)
	}
	setDefaults(&o)
	return &Analyzer{o: o, base: base}, nil
}

func setDefaults(o *Options) {
	if o.ErrorRateQuery == "" {
		o.ErrorRateQuery = DefaultErrorRateQuery
	}
	if o.P95Query == "" {
		o.P95Query = DefaultP95Query
	}
	if o.ErrorRateMax == 0 {
		o.ErrorRateMax = DefaultErrorRateMax
	}
	if o.P95Max == 0 {
		o.P95Max = DefaultP95Max
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
}

// Analyze measures slot and judges it: Fail on any breach, else
// Inconclusive when any measurement has no usable value, else Pass. When
// Prometheus cannot be reached the error is a *provider.UnreachableError and
// the report (inconclusive) is still returned for display.
func (a *Analyzer) Analyze(ctx context.Context, slot provider.Slot) (analysis.Report, error) {
	return a.AnalyzeWindow(ctx, slot, 0)
}

// AnalyzeWindow is Analyze with {{interval}} in the queries set to window
// (at least 1s; 0: 5m).
func (a *Analyzer) AnalyzeWindow(ctx context.Context, slot provider.Slot, window time.Duration) (analysis.Report, error) {
	rep := analysis.Report{Slot: slot}
	interval := "5m"
	if window > 0 {
		interval = strconv.FormatInt(max(int64(window.Round(time.Second)/time.Second), 1), 10) + "s"
	}
	specs := []struct {
		name, query, unit string
		max               float64
	}{
		{"error_rate", a.o.ErrorRateQuery, "ratio", a.o.ErrorRateMax},
		{"p95", a.o.P95Query, "seconds", a.o.P95Max.Seconds()},
	}
	var unreachable error
	for _, s := range specs {
		q := strings.ReplaceAll(strings.ReplaceAll(s.query, SlotPlaceholder, string(slot)), IntervalPlaceholder, interval)
		m, err := a.measure(ctx, s.name, q, s.unit, s.max)
		if err != nil && ctx.Err() != nil {
			return rep, ctx.Err()
		}
		if err != nil && unreachable == nil {
			unreachable = err
		}
		rep.Measurements = append(rep.Measurements, m)
	}
	rep.Verdict = analysis.Combine(rep.Measurements)
	if unreachable != nil {
		return rep, provider.Unreachable("Prometheus at "+redactURL(a.o.URL), unreachable)
	}
	return rep, nil
}

// measure runs one query. The error is returned only when Prometheus could
// not be reached; every other problem is an inconclusive measurement.
func (a *Analyzer) measure(ctx context.Context, name, query, unit string, max float64) (analysis.Measurement, error) {
	m := analysis.Measurement{Name: name, Query: query, Threshold: max, Unit: unit, Verdict: analysis.Inconclusive}
	var at time.Time
	if a.o.Now != nil {
		at = a.o.Now()
	}
	v, err := a.query(ctx, query, at)
	var qe *queryError
	switch {
	case errors.As(err, &qe):
		m.Error = qe.msg
		return m, nil
	case err != nil:
		m.Error = "cannot reach Prometheus: " + err.Error()
		return m, err
	}
	m.Value = v
	m.Verdict = analysis.Judge(v, max)
	return m, nil
}
