package rollout

import (
	"context"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/config"
	"github.com/deployctl/deployctl/pkg/analysis"
	"github.com/deployctl/deployctl/pkg/analysis/prometheus"
	"github.com/deployctl/deployctl/pkg/rollout"
	"github.com/deployctl/deployctl/pkg/timeutil"
)

// newEngine builds the rollout engine on the environment's providers.
func newEngine(ctx context.Context, f *app.Factory, command string) (*rollout.Engine, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	router, err := f.Traffic(ctx)
	if err != nil {
		return nil, err
	}
	locker, err := f.Locker(ctx)
	if err != nil {
		return nil, err
	}
	store, err := f.State(ctx)
	if err != nil {
		return nil, err
	}
	return &rollout.Engine{
		Router: router, Locker: locker, Store: store, History: f.Recorder(), Env: cfg.Env,
		Holder: f.Holder(command), Now: f.Now, Notef: f.Notef, Sleep: timeutil.Sleep,
	}, nil
}

// newAnalyzer is the analysis between steps, from the analysis section.
func newAnalyzer(cfg *config.Loaded) (analysis.Analyzer, error) {
	return analyzerFor(cfg, "--steps needs analysis between the steps")
}

// analyzerFor is the analysis section's analyzer; why starts the error.
func analyzerFor(cfg *config.Loaded, why string) (analysis.Analyzer, error) {
	a := cfg.Analysis
	an, err := prometheus.New(prometheus.Options{
		URL: a.PrometheusURL, ErrorRateQuery: a.ErrorRateQuery, P95Query: a.P95Query,
		ErrorRateMax: a.ErrorRateMax, P95Max: a.P95Max,
	})
	if err != nil {
		return nil, &config.Error{Msg: why + ": " + err.Error()}
	}
	return an, nil
}
