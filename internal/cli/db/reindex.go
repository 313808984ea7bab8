package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/dbindex"
	"github.com/deployctl/deployctl/pkg/provider"
)

// ReindexOptions are the options of db reindex.
type ReindexOptions struct {
	IO          *ui.IOStreams
	Factory     *app.Factory
	Flags       *Flags
	MinBloat    Percent
	Apply       bool
	LockTimeout time.Duration
}

// ReindexReport is the JSON of db reindex.
type ReindexReport struct {
	Env         string              `json:"env"`
	DryRun      bool                `json:"dry_run"`
	MinBloat    float64             `json:"min_bloat_percent"`
	LockTimeout string              `json:"lock_timeout"`
	Indexes     []dbindex.Result    `json:"indexes"`
	Excluded    []dbindex.Redundant `json:"excluded"`
	Analyzed    []string            `json:"analyzed"`
	Warnings    []string            `json:"warnings"`
}

// NewCmdReindex returns db reindex.
func NewCmdReindex(f *app.Factory, fl *Flags, runF func(*ReindexOptions) error) *cobra.Command {
	opts := &ReindexOptions{IO: f.IO, Factory: f, Flags: fl, MinBloat: 30, LockTimeout: 5 * time.Second}
	cmd := &cobra.Command{
		Use:   "reindex",
		Short: "Rebuild bloated indexes with REINDEX INDEX CONCURRENTLY (only with --apply)",
		Long: `Show the btree indexes whose bloat is --min-bloat or more (as db indexes
measures or estimates it), each with its size and bloat. Nothing changes
without --apply.

With --apply (a protected environment asks for its name, or --yes --confirm
ENV) the environment's lock is taken and each index is rebuilt in turn with
REINDEX INDEX CONCURRENTLY: reads and writes go on meanwhile. Its progress
(pg_stat_progress_create_index) is shown on a terminal. Every lock wait is
bounded by --lock-timeout: when another session holds the table longer, that
index is skipped, the session is named (pid, user, application, client, since
when), and the next index is rebuilt; the run then exits 1. The tables of the
rebuilt indexes are ANALYZEd at the end, and the run is recorded in the history.

Ctrl-C cancels the rebuild under way on the server, drops the invalid …_ccnew
copy it had started, and stops (exit 130; a second Ctrl-C leaves the copy:
the message names the DROP INDEX CONCURRENTLY to run).

Exit 0 all rebuilt (or the plan shown); 1 an index skipped or failed; 2 a bad
flag; 3 the environment is locked; 4 the database is unreachable.`,
		Example: `  deployctl db reindex -e production                  # the plan
  deployctl db reindex -e production --min-bloat 50% --apply --yes --confirm production
  deployctl db reindex --apply --lock-timeout 2s -o json`,
		Args: app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.LockTimeout < time.Millisecond {
				return app.Usagef("invalid --lock-timeout %s: at least 1ms (REINDEX must never wait forever for a lock)", opts.LockTimeout)
			}
			if runF != nil {
				return runF(opts)
			}
			return reindexRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().Var(&opts.MinBloat, "min-bloat", "rebuild btree indexes with at least this bloat, 0 to 100%")
	cmd.Flags().BoolVar(&opts.Apply, "apply", false, "rebuild (otherwise only show the plan)")
	cmd.Flags().DurationVar(&opts.LockTimeout, "lock-timeout", opts.LockTimeout, "how long a rebuild may wait for a lock before it skips the index")
	return cmd
}

func reindexRun(ctx context.Context, opts *ReindexOptions) error {
	f := opts.Factory
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	url, err := f.DatabaseURL(ctx, opts.Flags.DatabaseURL)
	if err != nil {
		return err
	}
	r, err := inspect(ctx, f, opts.Flags, float64(opts.MinBloat))
	if err != nil {
		return err
	}
	plan := dbindex.NewPlan(r, float64(opts.MinBloat))
	rep := ReindexReport{Env: cfg.Env, MinBloat: plan.MinBloat, LockTimeout: opts.LockTimeout.String(), Indexes: planned(plan),
		Excluded: plan.Excluded, Analyzed: []string{}, Warnings: []string{}}
	if !opts.Apply || f.Flags.DryRun || len(plan.Indexes) == 0 {
		rep.DryRun = len(plan.Indexes) > 0
		return opts.output(rep)
	}
	action := fmt.Sprintf("rebuild %d index(es) with REINDEX INDEX CONCURRENTLY", len(plan.Indexes))
	if err := f.Confirm(action, planLines(plan), true); err != nil { // not destructive: asks in protected environments
		return err
	}
	e, err := opts.engine(ctx)
	if err != nil {
		return err
	}
	out, err := e.Reindex(ctx, url, plan)
	if err != nil && len(out.Results) == 0 { // the lock or the connection: nothing ran
		return err
	}
	rep.Indexes, rep.Analyzed, rep.Warnings = out.Results, out.Analyzed, out.Warnings
	for _, w := range out.Warnings {
		opts.IO.Warnf("%s", w)
	}
	if oerr := opts.output(rep); oerr != nil && err == nil {
		err = oerr
	}
	return err
}

func (o *ReindexOptions) engine(ctx context.Context) (*dbindex.Engine, error) {
	f := o.Factory
	guard, err := f.Guard(ctx)
	if err != nil && !errors.Is(err, provider.ErrUnsupported) {
		return nil, err
	}
	return &dbindex.Engine{Lock: guard, History: f.Recorder(), Now: f.Now, LockTimeout: o.LockTimeout,
		Progress: newProgress(o.IO).event}, nil
}

func planned(p dbindex.Plan) []dbindex.Result {
	out := []dbindex.Result{}
	for _, b := range p.Indexes {
		out = append(out, dbindex.Result{Bloated: b, Status: dbindex.StatusPlanned, BlockedBy: []dbindex.Session{}})
	}
	return out
}

func planLines(p dbindex.Plan) []string {
	var out []string
	for _, b := range p.Indexes {
		out = append(out, fmt.Sprintf("%s on %s: %s, %.1f%% bloat (%s)", b.Label(), b.Table, ui.HumanBytes(b.SizeBytes), b.BloatPercent, b.BloatMethod))
	}
	return out
}

func (o *ReindexOptions) output(rep ReindexReport) error {
	if o.Factory.Flags.JSON() {
		return o.IO.JSON(rep)
	}
	return renderReindex(o.IO, rep)
}

func renderReindex(io *ui.IOStreams, rep ReindexReport) error {
	if len(rep.Indexes) == 0 {
		fmt.Fprintf(io.Out, "no btree index of 1 MiB or more has %g%% bloat or more: nothing to rebuild\n", rep.MinBloat)
	} else {
		tb := io.NewTable("INDEX", "TABLE", "SIZE", "BLOAT", "METHOD", "STATUS", "AFTER", "DETAIL")
		for _, r := range rep.Indexes {
			tb.Row(r.Label(), r.Table, ui.HumanBytes(r.SizeBytes), fmt.Sprintf("%.1f%% (%s)", r.BloatPercent, ui.HumanBytes(r.BloatBytes)),
				r.BloatMethod, r.Status, after(r), orDash(r.Detail))
		}
		if err := tb.Render(io.Out); err != nil {
			return err
		}
	}
	for _, x := range rep.Excluded {
		io.Printf("not rebuilt: %s: %s\n", x.Label(), x.CoveredBy)
	}
	switch {
	case rep.DryRun:
		io.Printf("dry run: nothing was changed; pass --apply to rebuild %d index(es) (lock_timeout %s)\n", len(rep.Indexes), rep.LockTimeout)
	case len(rep.Analyzed) > 0:
		io.Printf("analyzed %d table(s)\n", len(rep.Analyzed))
	}
	return nil
}

func after(r dbindex.Result) string {
	if r.Status != dbindex.StatusReindexed {
		return "-"
	}
	return ui.HumanBytes(r.SizeAfterBytes)
}
