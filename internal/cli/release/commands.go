package release

import (
	"errors"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/pkg/release"
)

func newCmdResume(f *app.Factory) *cobra.Command {
	var watchFlag bool
	cmd := &cobra.Command{
		Use:   "resume",
		Short: "Go on with a release that was stopped, at the step that was running",
		Long: `Go on with the newest release of the environment at the step that was
running when it stopped (a kill, Ctrl-C, a failed step fixed since). The
step's precondition is checked again first: for a traffic step, the traffic
must be where the release left it; if it is not, nothing changes and the
difference is shown.`,
		Example: "  deployctl release resume\n  deployctl release resume -e production",
		Args:    app.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			e, err := newEngine(ctx, f, "release resume")
			if err != nil {
				return err
			}
			if f.Flags.DryRun {
				rec, err := e.Show(ctx, 0)
				if err != nil {
					return err
				}
				f.IO.Printf("dry run: would resume %s (%s) at step %s\n", rec.Name(), rec.Status, current(rec))
				return nil
			}
			stop := watch(ctx, &Options{IO: f.IO, Factory: f, Watch: watchDefault(cmd, watchFlag, f)}, e)
			rec, err := e.Resume(ctx, "release resume")
			stop()
			return renderOutcome(f.IO, f.Flags.JSON(), rec, err)
		},
	}
	cmd.Flags().BoolVar(&watchFlag, "watch", false, "redraw the release's progress in place on stderr (default: on when stderr is a terminal)")
	return cmd
}

func newCmdAbort(f *app.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "abort",
		Short: "Undo a stopped release as far as it is safe: traffic back at once",
		Long: `Undo the newest unfinished release in reverse order, as far as it is safe:
all traffic goes back to the active slot at once (read back); the backup is
kept; migrations are NOT rolled back, since a down can lose data — the exact
'migrate down --to' and 'backup restore' commands are printed instead. A
promoted release is not aborted: use 'deployctl rollback'.`,
		Example: "  deployctl release abort --reason \"5xx on green\"",
		Args:    app.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			e, err := newEngine(ctx, f, "release abort")
			if err != nil {
				return err
			}
			rec, err := e.Show(ctx, 0)
			if err != nil {
				return err
			}
			if f.Flags.DryRun {
				f.IO.Printf("dry run: would abort %s (%s at step %s): traffic back to %s, migrations left as they are\n", rec.Name(), rec.Status, current(rec), rec.Active)
				return nil
			}
			if err := f.Confirm("abort "+rec.Name()+" of "+rec.Env, []string{"all traffic back to " + string(rec.Active) + " at once", "migrations are not rolled back (the commands are printed)"}, true); err != nil {
				return err
			}
			rec, said, err := e.Abort(ctx, "release abort", f.Flags.Reason)
			if err != nil {
				return err
			}
			for _, s := range said {
				f.IO.Printf("%s\n", s)
			}
			return renderOutcome(f.IO, f.Flags.JSON(), rec, nil)
		},
	}
}

func newCmdShow(f *app.Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "show [vN]",
		Short:   "Show one release and its steps (default: the newest)",
		Example: "  deployctl release show v42\n  deployctl release show -o json",
		Args:    app.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			n := 0
			if len(args) == 1 {
				var err error
				if n, err = release.ParseName(args[0]); err != nil {
					return &app.UsageError{Err: err}
				}
			}
			e, err := newEngine(cmd.Context(), f, "release show")
			if err != nil {
				return err
			}
			rec, err := e.Show(cmd.Context(), n)
			if err != nil {
				return notFound(err)
			}
			if f.Flags.JSON() {
				return f.IO.JSON(rec)
			}
			return renderSteps(f.IO, rec)
		},
	}
}

// NewCmdReleases returns `releases`: the numbered releases, newest first.
func NewCmdReleases(f *app.Factory) *cobra.Command {
	return &cobra.Command{
		Use:     "releases",
		Short:   "List the environment's numbered releases, newest first",
		GroupID: "release",
		Example: "  deployctl releases\n  deployctl releases -e production -o json",
		Args:    app.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := newEngine(cmd.Context(), f, "releases")
			if err != nil {
				return err
			}
			recs, err := e.List(cmd.Context())
			if err != nil {
				return err
			}
			if f.Flags.JSON() {
				return f.IO.JSON(recs)
			}
			return renderList(f.IO, recs, f.Now())
		},
	}
}

// NewCmdRollback returns `rollback [vN]`.
func NewCmdRollback(f *app.Factory) *cobra.Command {
	var watchFlag bool
	cmd := &cobra.Command{
		Use:     "rollback [vN]",
		Short:   "Return traffic to an earlier release (default: the one before the current)",
		GroupID: "release",
		Long: `Return all traffic to the slot of release vN (default: the release before the
current one) when that slot still runs its version; otherwise redeploy vN's
image to the standby slot first (providers that run the slots). On the local
provider, when vN was released with --slot-url and the standby slot is served
from another URL now, it is pointed back at vN's URL (acknowledged by the
running proxy), once vN's version answers ready there; if it does not, the
rollback is refused and nothing changes. The traffic moves at once, without
analysis: a rollback returns to a release that ran. The rollback is itself a
numbered release, with the same lock, history and confirmation.
It never touches the database: if vN needs the older schema, the commands are
in 'deployctl release show vN'.`,
		Example: "  deployctl rollback\n  deployctl rollback v41 --reason \"latency\"\n  deployctl rollback --dry-run",
		Args:    app.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			req := release.RollbackRequest{Command: "rollback", Reason: f.Flags.Reason}
			if len(args) == 1 {
				n, err := release.ParseName(args[0])
				if err != nil {
					return &app.UsageError{Err: err}
				}
				req.To, req.Command = n, "rollback "+args[0]
			}
			e, err := newEngine(ctx, f, req.Command)
			if err != nil {
				return err
			}
			plan := req
			plan.DryRun = true
			rec, steps, err := e.Rollback(ctx, plan)
			if err != nil {
				return notFound(err)
			}
			if f.Flags.DryRun {
				return renderPlan(f.IO, f.Flags.JSON(), rec, steps)
			}
			lines := append(planLines(rec, steps), "the database is not touched")
			// redeploying an image, or pointing a slot at a URL, changes a slot: confirmed as a release is
			if err := f.Confirm("roll back "+rec.Env+" to v"+itoa(rec.RollbackOf), lines, rec.Image == "" && rec.SlotURL == ""); err != nil {
				return err
			}
			stop := watch(ctx, &Options{IO: f.IO, Factory: f, Watch: watchDefault(cmd, watchFlag, f)}, e)
			rec, _, err = e.Rollback(ctx, req)
			stop()
			return renderOutcome(f.IO, f.Flags.JSON(), rec, err)
		},
	}
	cmd.Flags().BoolVar(&watchFlag, "watch", false, "redraw the rollback's progress in place on stderr (default: on when stderr is a terminal)")
	return cmd
}

func notFound(err error) error {
	if errors.Is(err, release.ErrNoRelease) {
		return &app.UsageError{Err: err}
	}
	return err
}

func itoa(n int) string { return strconv.Itoa(n) }
