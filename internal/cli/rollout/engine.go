package rollout

import (
	"context"
	"time"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/config"
	"github.com/deployctl/deployctl/pkg/analysis"
	"github.com/deployctl/deployctl/pkg/analysis/prometheus"
	"github.com/deployctl/deployctl/pkg/rollout"
)

// noter is a provider piece whose notes the command shows on stderr.
type noter interface {
	SetNotes(func(format string, a ...any))
}

// healthSetter is a router whose probes take the environment's health section.
type healthSetter interface {
	SetHealth(liveness, readiness string, timeout time.Duration)
}

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
	hist, err := f.History(ctx)
	if err != nil {
		return nil, err
	}
	notef := func(format string, a ...any) { f.IO.Printf("note: "+format+"\n", a...) }
	for _, x := range []any{router, locker} {
		if n, ok := x.(noter); ok {
			n.SetNotes(notef)
		}
	}
	if hs, ok := router.(healthSetter); ok {
		hs.SetHealth(cfg.Health.Path, cfg.Health.ReadinessPath, cfg.Health.Timeout)
	}
	return &rollout.Engine{
		Router: router, Locker: locker, Store: store, History: hist, Env: cfg.Env,
		Holder: f.Holder(command), Now: f.Now, Notef: notef, Sleep: rollout.Sleep,
	}, nil
}

// newAnalyzer is the analysis between steps, from the analysis section.
func newAnalyzer(cfg *config.Loaded) (analysis.Analyzer, error) {
	a := cfg.Analysis
	an, err := prometheus.New(prometheus.Options{
		URL: a.PrometheusURL, ErrorRateQuery: a.ErrorRateQuery, P95Query: a.P95Query,
		ErrorRateMax: a.ErrorRateMax, P95Max: a.P95Max,
	})
	if err != nil {
		return nil, &config.Error{Msg: "--steps needs analysis between the steps: " + err.Error()}
	}
	return an, nil
}
