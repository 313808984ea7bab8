package rollout

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/internal/ui/live"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/rollout"
	"github.com/deployctl/deployctl/pkg/timeutil"
)

// StatusOptions are the options of rollout status.
type StatusOptions struct {
	IO          *ui.IOStreams
	Factory     *app.Factory
	Watch       bool
	Interval    time.Duration
	UntilStable bool
}

// StatusJSON is `rollout status -o json`.
type StatusJSON struct {
	Env string `json:"env"`
	*rollout.Status
}

// NewCmdStatus returns `rollout status`.
func NewCmdStatus(f *app.Factory, runF func(*StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the active slot, the weights, each slot's health and version, the lock",
		Long: `Show the active and candidate slots, the weights as the data plane serves them
(and a drift warning when they differ from the rollout state), the readiness,
version and latency of each slot, the last change and who holds the lock.
Before the first change blue is active with 100%.

With --watch it reads them again every --interval and shows them live: on a
terminal one screen redrawn in place (weights as bars, each slot's readiness
and version, the change under way, and, when analysis.prometheus_url is set,
each slot's error rate and P95 as sparklines against their thresholds); on a
pipe one line per change. Ctrl-C ends it (exit 130); --until-stable ends it
with exit 0 once one ready slot serves 100% and no change is under way.`,
		Example: `  deployctl rollout status
  deployctl rollout status -o json | jq .weights
  deployctl rollout status --watch
  deployctl rollout status --watch --interval 5s --until-stable | tee rollout.log`,
		Args: app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.validate(cmd); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			if opts.Watch {
				return watchRun(cmd.Context(), opts)
			}
			return statusRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.Watch, "watch", "w", false, "show the status live until Ctrl-C: redrawn in place on a terminal, one line per change on a pipe")
	cmd.Flags().DurationVar(&opts.Interval, "interval", 2*time.Second, "with --watch: how often to read the status and the analysis")
	cmd.Flags().BoolVar(&opts.UntilStable, "until-stable", false, "with --watch: exit 0 once one ready slot serves 100% and no change is under way")
	return cmd
}

func (o *StatusOptions) validate(cmd *cobra.Command) error {
	switch {
	case !o.Watch && cmd.Flags().Changed("interval"):
		return app.Usagef("--interval goes with --watch")
	case !o.Watch && o.UntilStable:
		return app.Usagef("--until-stable goes with --watch")
	case o.Interval <= 0:
		return app.Usagef("invalid --interval %s: give a positive duration such as 2s", o.Interval)
	case o.Watch && o.Factory.Flags.JSON():
		return app.Usagef("--watch shows a live view, not JSON: use -o json without --watch (one document), or --watch on a pipe (one line per change)")
	}
	return nil
}

// watchRun is rollout status --watch.
func watchRun(ctx context.Context, opts *StatusOptions) error {
	eng, err := newEngine(ctx, opts.Factory, "rollout status")
	if err != nil {
		return err
	}
	cfg, err := opts.Factory.Config()
	if err != nil {
		return err
	}
	w := &watcher{Status: eng.Status, Env: cfg.Env, Interval: opts.Interval, UntilStable: opts.UntilStable,
		Now: opts.Factory.Now, Sleep: timeutil.Sleep,
		View: live.NewWith(opts.IO.Out, live.Options{Terminal: opts.IO.StdoutTTY, Color: opts.IO.ColorEnabled()})}
	if cfg.Analysis.PrometheusURL != "" {
		if w.Analyzer, err = analyzerFor(cfg, "rollout status --watch shows the analysis (analysis.prometheus_url is set)"); err != nil {
			return err
		}
	}
	return w.run(ctx)
}

func statusRun(ctx context.Context, opts *StatusOptions) error {
	eng, err := newEngine(ctx, opts.Factory, "rollout status")
	if err != nil {
		return err
	}
	st, err := eng.Status(ctx)
	if err != nil {
		return err
	}
	cfg, _ := opts.Factory.Config()
	if opts.Factory.Flags.JSON() {
		return opts.IO.JSON(StatusJSON{Env: cfg.Env, Status: st})
	}
	renderStatus(opts.IO, cfg.Env, st)
	return nil
}

func renderStatus(io *ui.IOStreams, env string, st *rollout.Status) {
	w, th := io.Out, io.Theme()
	candidate := string(st.Candidate)
	if candidate == "" {
		candidate = "none"
	}
	fmt.Fprintf(w, "environment  %s\nactive       %s\ncandidate    %s\nweights      %s\n", env, st.Active, candidate, st.Weights.String())
	if dp := st.DataPlane; dp != nil {
		if dp.Up {
			fmt.Fprintf(w, "data plane   %s\n", dp.Detail)
		} else {
			fmt.Fprintf(w, "data plane   %s: %s; the weights above are stored, not served; start it: %s\n", th.Status("down"), dp.Detail, dp.Start)
		}
	}
	if st.Drift {
		fmt.Fprintf(w, "drift        %s: the rollout state says %s; the next rollout command sets them again\n", th.Status("warn"), st.Stored.String())
	}
	t := io.NewTable("SLOT", "WEIGHT", "READY", "VERSION", "LATENCY", "DETAIL")
	for _, s := range provider.Slots {
		h := st.Health[s]
		ready := th.Status("not ready")
		if h.Ready {
			ready = th.Status("ready")
		}
		t.Row(string(s), fmt.Sprintf("%d%%", st.Weights[s]), ready, dash(st.Versions[s]), fmt.Sprintf("%.1fms", h.LatencyMS), h.Detail)
	}
	fmt.Fprintln(w)
	t.Render(w)
	fmt.Fprintln(w)
	fmt.Fprintf(w, "last change  %s\nlock         %s\n", lastChange(st.LastChange), holder(st.Lock))
	if st.Pending != nil {
		fmt.Fprintf(w, "interrupted  %q by %s (pid %d) at %s; the next rollout command repairs it\n", st.Pending.Command, st.Pending.Actor, st.Pending.PID, st.Pending.Since.Format(time.RFC3339))
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func lastChange(c *rollout.Change) string {
	if c == nil {
		return "none"
	}
	s := fmt.Sprintf("%s by %s: %s", c.At.Format(time.RFC3339), c.Actor, c.Command)
	if c.Reason != "" {
		s += fmt.Sprintf(" (%s)", c.Reason)
	}
	return s
}

func holder(h *provider.Holder) string {
	if h == nil {
		return "free"
	}
	return fmt.Sprintf("held by %s (pid %d on %s, running %q) since %s", h.Actor, h.PID, h.Host, h.Command, h.Since.Format(time.RFC3339))
}

// ReadStatus is what rollout status shows, for deployctl status.
func ReadStatus(ctx context.Context, f *app.Factory) (*rollout.Status, error) {
	eng, err := newEngine(ctx, f, "status")
	if err != nil {
		return nil, err
	}
	return eng.Status(ctx)
}
