package maintenance

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/maintenance"
)

// TickOptions are the options of maintenance tick.
type TickOptions struct {
	IO      *ui.IOStreams
	Factory *app.Factory
	Request maintenance.TickRequest
}

// NewCmdTick returns maintenance tick.
func NewCmdTick(f *app.Factory, runF func(*TickOptions) error) *cobra.Command {
	opts := &TickOptions{IO: f.IO, Factory: f}
	return &cobra.Command{
		Use:   "tick",
		Short: "Start and end scheduled windows (run it from cron every minute)",
		Long: `Switch maintenance on for each scheduled window whose start has come, and
off for each whose end has passed and that tick itself switched on; then send
the "started" and "ended" notices (maintenance.notify.to) and the
maintenance.on / maintenance.off events (notify:). Silent when nothing is due.

A window that was already on at its start (switched on by an operator) is left
to the operator: tick never switches it off. Neither does it switch off a
window that was switched on again or extended. A window whose end passed
before tick ever saw it started (tick not running, a clock that was off) is
marked missed and reported, not switched on. Each window is decided once, under
the environment lock, so two ticks at once do not both act.`,
		Example: `  * * * * * cd /srv/app && deployctl -e production maintenance tick
  deployctl maintenance tick --dry-run
  deployctl maintenance tick -o json`,
		Args: app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Request.DryRun = f.Flags.DryRun
			if runF != nil {
				return runF(opts)
			}
			return tickRun(cmd.Context(), opts)
		},
	}
}

func tickRun(ctx context.Context, opts *TickOptions) error {
	f := opts.Factory
	if err := withDefaults(f, &opts.Request.Allow, false); err != nil {
		return err
	}
	e, err := engine(ctx, f, needs{lock: true, state: true, notify: !opts.Request.DryRun})
	if err != nil {
		return err
	}
	res, err := e.Tick(ctx, opts.Request)
	renderTick(opts.IO, res)
	if err != nil {
		return err
	}
	return jsonIf(opts.IO, f.Flags.JSON(), res)
}

func renderTick(io *ui.IOStreams, res maintenance.TickResult) {
	prefix := ""
	if res.DryRun {
		prefix = "dry run: would have "
	}
	for _, a := range res.Actions {
		span := fmtTime(a.Start) + " to " + fmtTime(a.End)
		switch a.Action {
		case maintenance.TickOn:
			io.Printf("%s%sswitched maintenance on for window %s (%s)\n", mark(io, res.DryRun), prefix, a.Window, span)
		case maintenance.TickOff:
			io.Printf("%s%sswitched maintenance off: window %s ended (%s)\n", mark(io, res.DryRun), prefix, a.Window, span)
		case maintenance.TickMissed:
			io.Printf("%s window %s (%s) was missed: %s\n", io.Theme().Warn.Render("!"), a.Window, span, a.Detail)
		default:
			io.Printf("%s window %s (%s): %s\n", io.Theme().Warn.Render("!"), a.Window, span, a.Detail)
		}
	}
	if res.DryRun && len(res.Actions) > 0 {
		io.Printf("nothing was changed\n")
	}
}

func mark(io *ui.IOStreams, dryRun bool) string {
	if dryRun {
		return ""
	}
	return io.Theme().OK.Render("✓") + " "
}
