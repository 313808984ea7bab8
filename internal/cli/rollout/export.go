package rollout

import (
	"context"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/pkg/rollout"
)

// NewEngine builds the rollout engine for another command (release), with
// the analysis between steps when analyse.
func NewEngine(ctx context.Context, f *app.Factory, command string, analyse bool) (*rollout.Engine, error) {
	e, err := newEngine(ctx, f, command)
	if err != nil || !analyse {
		return e, err
	}
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	if e.Analyzer, err = newAnalyzer(cfg); err != nil {
		return nil, err
	}
	return e, nil
}
