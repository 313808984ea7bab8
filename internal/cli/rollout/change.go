package rollout

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/rollout"
)

type pflagFlag = pflag.Flag

// changeRun runs a changing rollout command and renders its result.
func changeRun(ctx context.Context, opts *ChangeOptions, command string) error {
	f := opts.Factory
	eng, err := newEngine(ctx, f, command)
	if err != nil {
		return err
	}
	req := rollout.Request{
		Op: opts.Op, Slot: opts.Slot, Weight: opts.Weight, Steps: opts.Steps, Interval: opts.Interval,
		Image: opts.Image, ImageTimeout: opts.Timeout, DryRun: f.Flags.DryRun, Command: command, Reason: f.Flags.Reason,
	}
	if len(req.Steps) > 0 {
		cfg, _ := f.Config()
		if eng.Analyzer, err = newAnalyzer(cfg); err != nil {
			return err
		}
		if req.Interval == 0 {
			req.Interval = cfg.Analysis.Interval
		}
	}
	eng.Confirm = func(plan []rollout.Step) error {
		lines := make([]string, len(plan))
		for i, st := range plan {
			lines[i] = fmt.Sprintf("%d. weights %s → %s%s", i+1, st.Before.String(), st.After.String(), note(st))
		}
		return f.Confirm(command, lines, true)
	}
	res, err := eng.Run(ctx, req)
	var ge *rollout.GateError
	if errors.As(err, &ge) {
		renderGate(opts, res, ge)
		var ue *provider.UnreachableError
		if errors.As(ge.Err, &ue) { // the gate could not ask Prometheus: a dependency, exit 4
			return &app.SilentError{Code: app.ExitUnreachable}
		}
		return app.ErrFailed
	}
	if err != nil {
		return err
	}
	return renderResult(opts, res)
}
