// Package release is `deployctl release` (start, resume, abort, show),
// `deployctl releases` and `deployctl rollback`: the whole release as one
// resumable command, numbered per environment.
package release

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/local/proxy"
	"github.com/deployctl/deployctl/pkg/release"
)

// Options are the options of release.
type Options struct {
	IO            *ui.IOStreams
	Factory       *app.Factory
	Image         string
	SlotURL       string
	Steps         []int
	Interval      time.Duration
	SkipChecklist bool
	Fast          bool
	Watch         bool
}

// DefaultSteps are the candidate's traffic steps when --steps is not given.
var DefaultSteps = []int{10, 50, 100}

// NewCmdRelease returns the release command group: release is its own verb.
func NewCmdRelease(f *app.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Factory: f, Steps: append([]int(nil), DefaultSteps...)}
	cmd := &cobra.Command{
		Use:     "release [--image IMG | --slot-url URL] [--steps 10,50,100] [--interval D]",
		Short:   "Release a new version: checklist, backup, migrations, traffic steps with analysis, promote",
		GroupID: "release",
		Long: `Carry out the whole release as one resumable command, numbered per environment
(v1, v2, …). The steps, each recorded as it goes in the environment's state:

  lock            the environment's lock, held from the first step to the last
  checklist       the production checklist (waivers honoured); --skip-checklist needs --reason
  backup          a backup, verified by a restore (--fast: by its checksum)
  rehearse        the pending migrations applied to a scratch copy of that backup
  checklist-evidence  the checklist's backups and migrations items, on that evidence
  migrate         migrate up
  prepare         the candidate slot: --image on providers that run the slots,
                  else what it runs now; ready before any traffic moves
  traffic-N       the candidate gets N % (--steps), then after --interval its error
                  rate and P95 are judged (analysis section): a breach sends all
                  traffic back to the active slot and ends the release as aborted
  promote         the candidate becomes the active slot
  health          its readiness and that it serves all traffic, read back

A release killed at any point (Ctrl-C, SIGKILL, a closed laptop) is resumed
with 'deployctl release resume' at the step that was running, after checking
its precondition again; 'deployctl release abort' undoes in reverse what is
safe to undo (traffic back at once; migrations never, the commands to do it
are printed). Ctrl-C leaves the traffic where it is.`,
		Example: `  deployctl release --dry-run
  deployctl release --steps 10,50,100 --interval 2m --reason "v2.4.0"
  deployctl release --image registry.example.com/api:2.4.0 -e production
  deployctl release resume
  deployctl release abort --reason "error rate"
  deployctl releases
  deployctl rollback`,
		Args: app.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Watch = watchDefault(cmd, opts.Watch, f)
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return startRun(cmd.Context(), opts, "release"+flagLine(cmd))
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Image, "image", "", "deploy IMG to the candidate slot first (providers that run the slots)")
	fl.StringVar(&opts.SlotURL, "slot-url", "", "point the candidate slot at this URL, where the new version runs (local proxy)")
	fl.Var(&stepsValue{steps: &opts.Steps}, "steps", "the candidate's weights one after the other, ending at 100")
	fl.DurationVar(&opts.Interval, "interval", 0, "wait between a traffic step and its analysis (default analysis.interval)")
	fl.BoolVar(&opts.SkipChecklist, "skip-checklist", false, "do not gate on the checklist (needs --reason)")
	fl.BoolVar(&opts.Fast, "fast", false, "verify the release's backup by its checksum instead of a restore")
	fl.BoolVar(&opts.Watch, "watch", false, "redraw the release's progress in place on stderr (default: on when stderr is a terminal; --watch=false: one line per change)")
	cmd.AddCommand(newCmdResume(f), newCmdAbort(f), newCmdShow(f))
	return cmd
}

// watchDefault is --watch as given, else on when stderr is a terminal.
func watchDefault(cmd *cobra.Command, given bool, f *app.Factory) bool {
	if cmd.Flags().Changed("watch") {
		return given
	}
	return f.IO.StderrTTY
}

func (o *Options) validate() error {
	switch {
	case o.Image != "" && o.SlotURL != "":
		return app.Usagef("give --image or --slot-url, not both")
	case len(o.Steps) == 0 || o.Steps[len(o.Steps)-1] != 100:
		return app.Usagef("--steps must end at 100 (the candidate gets all traffic before it is promoted), such as 10,50,100")
	case o.Interval < 0:
		return app.Usagef("invalid --interval %s", o.Interval)
	case o.SlotURL != "":
		// checked before anything prints or records it (a URL with a
		// password would land in the plan, the record and the history), by
		// the proxy's own rule
		if _, err := proxy.ParseSlotURL(o.SlotURL); err != nil {
			return app.Usagef("--slot-url %v", err)
		}
	case o.SkipChecklist && strings.TrimSpace(o.Factory.Flags.Reason) == "":
		return app.Usagef("--skip-checklist needs --reason: say why this release goes out without the checklist")
	}
	return nil
}

// newEngine builds the release engine on the environment's providers.
func newEngine(ctx context.Context, f *app.Factory, command string) (*release.Engine, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	store, err := f.State(ctx)
	if err != nil {
		return nil, err
	}
	locker, err := f.HoldingLocker(ctx)
	if err != nil {
		return nil, err
	}
	return &release.Engine{
		Store: store, Locker: locker, Holder: f.Holder(command), History: f.Recorder(), Env: cfg.Env,
		Now: f.Now, Notef: f.Notef, Deps: deps(f), Notify: notifier(f),
	}, nil
}

func startRun(ctx context.Context, o *Options, command string) error {
	f := o.Factory
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	if o.Image != "" {
		// refused before anything runs: not after the backup and the migrations
		router, err := f.Traffic(ctx)
		if err != nil {
			return err
		}
		if _, ok := router.(provider.ImageSetter); !ok {
			return app.Usagef("--image is not supported by the %s traffic provider: it shifts traffic between slots but does not run them; deploy the new version to the candidate slot yourself, then release without --image", cfg.Traffic.Provider)
		}
	}
	e, err := newEngine(ctx, f, command)
	if err != nil {
		return err
	}
	req := release.Request{
		Image: o.Image, SlotURL: o.SlotURL, Weights: o.Steps, Interval: o.Interval, Analyse: cfg.Analysis.PrometheusURL != "",
		SkipChecklist: o.SkipChecklist, Fast: o.Fast, Command: command, Reason: f.Flags.Reason,
	}
	if req.Interval == 0 {
		req.Interval = cfg.Analysis.Interval
	}
	rec, steps, err := e.Plan(ctx, req)
	if err != nil {
		return err
	}
	if f.Flags.DryRun {
		return renderPlan(o.IO, f.Flags.JSON(), rec, steps)
	}
	if err := f.Confirm(fmt.Sprintf("release %s (migrations, then traffic to %s)", rec.Name(), rec.Slot), planLines(rec, steps), false); err != nil {
		return err
	}
	stop := watch(ctx, o, e)
	rec, err = e.Start(ctx, req)
	stop()
	return renderOutcome(o.IO, f.Flags.JSON(), rec, err)
}

// renderOutcome shows the release's steps after it ran, also after a failure.
func renderOutcome(io *ui.IOStreams, asJSON bool, rec *release.Record, err error) error {
	if rec == nil {
		return err
	}
	if asJSON {
		if jerr := io.JSON(rec); jerr != nil {
			return jerr
		}
		return quiet(err)
	}
	if terr := renderSteps(io, rec); terr != nil {
		return terr
	}
	if err == nil {
		io.Printf("%s %s: %s\n", rec.Name(), rec.Status, summary(rec))
	}
	return err
}

// quiet keeps err's exit code without printing it again after the JSON.
func quiet(err error) error {
	if err == nil {
		return nil
	}
	return &app.SilentError{Code: app.ExitCode(err)}
}

func summary(r *release.Record) string {
	switch r.Status {
	case release.Succeeded:
		if r.Kind == release.KindRollback {
			return fmt.Sprintf("back on v%d: %s serves all traffic (read back), version %s; the database was not touched", r.RollbackOf, r.Slot, orUnknown(r.Version))
		}
		return fmt.Sprintf("%s serves all traffic (read back), version %s", r.Slot, orUnknown(r.Version))
	case release.Aborted:
		return "aborted: all traffic on " + string(r.Active)
	}
	return string(r.Status) + " at step " + current(r)
}

func current(r *release.Record) string {
	if r.Current < len(r.Steps) {
		return r.Steps[r.Current].Name
	}
	return "end"
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// stepsValue is --steps: increasing weights such as 10,50,100.
type stepsValue struct{ steps *[]int }

func (v *stepsValue) String() string {
	parts := make([]string, len(*v.steps))
	for i, n := range *v.steps {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ",")
}

func (v *stepsValue) Set(s string) error {
	var out []int
	for _, part := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(part, "%")))
		if err != nil || n < 1 || n > 100 {
			return fmt.Errorf("in %q: %q is not a weight from 1 to 100", s, part)
		}
		if len(out) > 0 && n <= out[len(out)-1] {
			return fmt.Errorf("steps %q must increase, such as 10,50,100", s)
		}
		out = append(out, n)
	}
	*v.steps = out
	return nil
}

func (v *stepsValue) Type() string { return "weights" }

// flagLine is the changed flags as typed, for the lock holder and history.
func flagLine(cmd *cobra.Command) string {
	var b strings.Builder
	for _, name := range []string{"image", "slot-url", "steps", "interval", "skip-checklist", "fast"} {
		if fl := cmd.Flags().Lookup(name); fl != nil && fl.Changed {
			fmt.Fprintf(&b, " --%s %s", fl.Name, fl.Value.String())
		}
	}
	return b.String()
}
