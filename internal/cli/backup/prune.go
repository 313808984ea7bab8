package backup

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/backup"
	"github.com/deployctl/deployctl/pkg/timeutil"
)

// Count is a retention count flag: a whole number, 0 or more.
type Count struct {
	N     int
	Given bool
}

func (c *Count) String() string { return strconv.Itoa(c.N) }
func (c *Count) Type() string   { return "count" }

// Set rejects anything but a non-negative integer while parsing.
func (c *Count) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return fmt.Errorf("%q is not a count (0 or more)", s)
	}
	c.N, c.Given = n, true
	return nil
}

// PruneOptions are the options of backup prune.
type PruneOptions struct {
	IO                     *ui.IOStreams
	Factory                *app.Factory
	Daily, Weekly, Monthly Count
	Grace                  timeutil.Duration
	Apply                  bool
}

// PruneReport is the JSON of backup prune.
type PruneReport = backup.PruneReport

// NewCmdPrune returns backup prune.
func NewCmdPrune(f *app.Factory, runF func(*PruneOptions) error) *cobra.Command {
	opts := &PruneOptions{IO: f.IO, Factory: f, Grace: timeutil.Duration(backup.DefaultGrace)}
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Delete old backups by daily/weekly/monthly counts, and the WAL they no longer need (only with --apply)",
		Long: `Show which backups the retention keeps, with the rule that keeps each, and
which it deletes. Nothing is deleted without --apply (which asks for
confirmation on a terminal, or takes --yes).

It keeps the newest backup of each of the last N days, ISO weeks and months
that have one (UTC; backup.retention by default), and always the newest backup
and the newest one verified at level restore (a checksum or archive
verification does not prove a backup restores, so it does not count), and a
backup that a verify or a restore is reading. The "kept by" column (kept_by in
JSON) names the rules that keep each backup. Folders without a manifest older than --grace
(an interrupted create or prune) are deleted too; younger ones may be a backup
in progress and stay.

The WAL archive (wal/, 'deployctl wal push') keeps what the kept base backups
need: every kept base backup restores from its start to the next one, and the
newest to now, so the WAL from the start of the oldest kept base backup on
stays, and the segments (and .partial and .backup files) that end before it
go. History files always stay; without a base backup no WAL is deleted; a base
backup that a verify or a restore is reading holds its WAL back.`,
		Example: "  deployctl backup prune\n  deployctl backup prune --keep-daily 7 --keep-weekly 4 --keep-monthly 6 --apply --yes",
		Args:    app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return pruneRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.Var(&opts.Daily, "keep-daily", "keep the newest backup of the last N days (default: backup.retention.daily)")
	fl.Var(&opts.Weekly, "keep-weekly", "keep the newest backup of the last N weeks (default: backup.retention.weekly)")
	fl.Var(&opts.Monthly, "keep-monthly", "keep the newest backup of the last N months (default: backup.retention.monthly)")
	fl.Var(&opts.Grace, "grace", "age after which a folder without a manifest is deleted")
	fl.BoolVar(&opts.Apply, "apply", false, "delete what the plan says (otherwise only show it)")
	return cmd
}

func (o *PruneOptions) policy(def [3]int) backup.Policy {
	pick := func(c Count, d int) int {
		if c.Given {
			return c.N
		}
		return d
	}
	return backup.Policy{Daily: pick(o.Daily, def[0]), Weekly: pick(o.Weekly, def[1]), Monthly: pick(o.Monthly, def[2]), Grace: time.Duration(o.Grace)}
}

func pruneRun(ctx context.Context, opts *PruneOptions) error {
	f := opts.Factory
	e, cfg, err := engine(ctx, f)
	if err != nil {
		return err
	}
	c, err := backup.Scan(ctx, e.Store)
	if err != nil {
		return err
	}
	r := cfg.Backup.Retention
	plan := backup.Plan(c, opts.policy([3]int{r.Daily, r.Weekly, r.Monthly}), f.Now())
	if err := e.PlanWAL(ctx, c, plan); err != nil {
		return err
	}
	rep := plan.Report()
	nb, no := plan.Deletions()
	nw := rep.WAL.Files
	_, aborts := e.Store.(backup.IncompleteAborter)
	if opts.Apply && !f.Flags.DryRun && (nb+no+nw > 0 || aborts) {
		if nb+no+nw > 0 {
			what := fmt.Sprintf("delete %d backup(s) and %d incomplete folder(s)", nb, no)
			if nw > 0 {
				what = fmt.Sprintf("delete %d backup(s), %d incomplete folder(s) and %d WAL file(s)", nb, no, nw)
			}
			if err := f.Confirm(what, deletions(rep), false); err != nil {
				return err
			}
		}
		aborted, err := e.Apply(ctx, plan)
		rep.Applied, rep.AbortedUploads = err == nil, aborted
		nb, no = plan.Deletions() // a backup being read was kept after all
		if err != nil {
			return err
		}
	}
	return opts.render(rep, nb, no)
}

func (o *PruneOptions) render(rep *PruneReport, nb, no int) error {
	if o.Factory.Flags.JSON() {
		return o.IO.JSON(rep)
	}
	tb := o.IO.NewTable("id", "created", "size", "action", "kept by")
	for _, b := range rep.Backups {
		tb.Row(b.ID, b.CreatedAt.UTC().Format(time.RFC3339), ui.HumanBytes(b.SizeBytes), action(b.Keep), strings.Join(b.Reasons, ", "))
	}
	for _, x := range rep.Orphans {
		tb.Row(x.ID, "-", ui.HumanBytes(x.Bytes), action(!x.Delete), x.Reason)
	}
	for _, id := range rep.Broken {
		tb.Row(id, "-", "-", "keep", "manifest unreadable: never deleted automatically")
	}
	w := rep.WAL
	hasWAL := w != nil && w.Archived > 0
	if tb.Len() == 0 && !hasWAL {
		o.IO.Printf("no backups\n")
		return nil
	}
	if tb.Len() == 0 {
		o.IO.Printf("no backups\n")
	} else if err := tb.Render(o.IO.Out); err != nil {
		return err
	}
	nw := 0
	if hasWAL {
		nw = w.Files
		fmt.Fprintln(o.IO.Out, walLine(w, rep.Applied))
		for _, m := range w.Warnings {
			o.IO.Warnf("%s", m)
		}
	}
	what := fmt.Sprintf("%d backup(s) and %d incomplete folder(s)", nb, no)
	if nw > 0 {
		what = fmt.Sprintf("%d backup(s), %d incomplete folder(s) and %d WAL file(s)", nb, no, nw)
	}
	switch {
	case rep.Applied:
		o.IO.Printf("deleted %s, aborted %d unfinished upload(s)\n", what, rep.AbortedUploads)
	case nb+no+nw == 0:
		o.IO.Printf("nothing to delete\n")
	default:
		o.IO.Printf("nothing deleted: pass --apply to delete %s\n", what)
	}
	return nil
}

// walLine says what prune does to the WAL archive and the rule that keeps
// the rest (two lines).
func walLine(w *backup.WALPrune, applied bool) string {
	if w.KeptBy != backup.WALKeptByBaseStart {
		return fmt.Sprintf("WAL: keep all %d file(s) (kept by %s: %s)", w.Kept, w.KeptBy, w.Reason)
	}
	verb := "would delete"
	if applied {
		verb = "deleted"
	}
	oldest := w.OldestKept
	if oldest == "" {
		oldest = w.StartWAL
	}
	return fmt.Sprintf("WAL: %s %d file(s) (%d segment(s), %s) before %s\n"+
		"WAL: keep %d file(s) from %s on (kept by %s: the start of base backup %s, the oldest kept; %d history file(s), always kept)",
		verb, w.Files, w.Segments, ui.HumanBytes(w.Bytes), w.StartWAL, w.Kept, oldest, w.KeptBy, w.From, w.History)
}

func action(keep bool) string {
	if keep {
		return "keep"
	}
	return "delete"
}

// deletions lists what prune --apply deletes, shown before it asks.
func deletions(rep *PruneReport) []string {
	var out []string
	for _, b := range rep.Backups {
		if !b.Keep {
			out = append(out, fmt.Sprintf("backup %s (%s, %s)", b.ID, b.CreatedAt.UTC().Format(time.RFC3339), ui.HumanBytes(b.SizeBytes)))
		}
	}
	for _, x := range rep.Orphans {
		if x.Delete {
			out = append(out, fmt.Sprintf("incomplete folder %s (%s): %s", x.ID, ui.HumanBytes(x.Bytes), x.Reason))
		}
	}
	if w := rep.WAL; w != nil && w.Files > 0 {
		out = append(out, fmt.Sprintf("%d WAL file(s) (%s) before %s, the start of base backup %s, the oldest kept", w.Files, ui.HumanBytes(w.Bytes), w.StartWAL, w.From))
	}
	return out
}
