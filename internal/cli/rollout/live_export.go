package rollout

import (
	"context"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui/live"
)

// LiveTraffic reads what `rollout status --watch` shows — the weights, each
// slot's readiness and version, and, when analysis.prometheus_url is set,
// each slot's error rate and P95 as series against their thresholds — for
// another command's live view (release --watch), which draws them under its
// own steps. Read-only: it never takes the lock nor repairs anything.
type LiveTraffic struct {
	status   *watcher // the weights and the slots
	analysis *watcher // the series; nil without analysis
}

// NewLiveTraffic builds the reader on the environment's providers; command
// names it in the errors.
func NewLiveTraffic(ctx context.Context, f *app.Factory, command string) (*LiveTraffic, error) {
	eng, err := newEngine(ctx, f, command)
	if err != nil {
		return nil, err
	}
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	l := &LiveTraffic{status: &watcher{Status: eng.Status, Env: cfg.Env, Now: f.Now}}
	if cfg.Analysis.PrometheusURL != "" {
		an, err := analyzerFor(cfg, command+" shows the analysis (analysis.prometheus_url is set)")
		if err != nil {
			return nil, err
		}
		l.analysis = &watcher{Analyzer: an}
	}
	return l, nil
}

// Analyses reports whether the analysis is configured.
func (l *LiveTraffic) Analyses() bool { return l.analysis != nil }

// Traffic reads the status once and returns the frame's Active, Weights and
// Slots (readiness, version, latency or why not ready), as rollout status
// --watch draws them.
func (l *LiveTraffic) Traffic(ctx context.Context) (live.Frame, error) {
	st, err := l.status.Status(ctx)
	if err != nil {
		return live.Frame{}, err
	}
	f := l.status.frame(ctx, st, nil)
	return live.Frame{Active: f.Active, Weights: f.Weights, Slots: f.Slots}, nil
}

// Measure measures each slot's analysis once more (one point per series; a
// measurement without a value is a gap, never a zero) and returns copies of
// every series so far, oldest value first, and what went wrong, if anything.
// Not safe for concurrent use.
func (l *LiveTraffic) Measure(ctx context.Context) (metrics []live.Metric, problem string) {
	if l.analysis == nil {
		return nil, ""
	}
	problem = l.analysis.analyse(ctx)
	for _, k := range l.analysis.order {
		m := *l.analysis.series[k]
		m.Values = append([]float64(nil), m.Values...)
		metrics = append(metrics, m)
	}
	return metrics, problem
}
