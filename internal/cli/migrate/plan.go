package migrate

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/migrate"
)

// PlanOptions are the options of migrate plan.
type PlanOptions struct {
	IO      *ui.IOStreams
	Factory *app.Factory
	Flags   *DBFlags
	To      int64
	dryRun  string // "up" when called by up --dry-run
}

// NewCmdPlan returns migrate plan.
func NewCmdPlan(f *app.Factory, fl *DBFlags, runF func(*PlanOptions) error) *cobra.Command {
	opts := &PlanOptions{IO: f.IO, Factory: f, Flags: fl}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what 'up' would apply, with transaction modes and lint findings",
		Long: `List the pending migrations with their transaction mode, down section,
irreversible mark and lint findings, and any dirty mark or edited applied file
that would stop 'up'. Reads only; takes no lock. Same as 'up --dry-run'.`,
		Example: "  deployctl migrate plan\n  deployctl migrate plan -o json",
		Args:    app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return planRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().Int64Var(&opts.To, "to", 0, "plan up to and including this version (default: all)")
	return cmd
}

func planRun(ctx context.Context, opts *PlanOptions) error {
	f := opts.Factory
	_, migs, err := load(f, opts.Flags)
	if err != nil {
		return err
	}
	db, err := open(ctx, f, opts.Flags, "migrate plan")
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := db.ReadState(ctx)
	if err != nil {
		return err
	}
	p, err := migrate.PlanFor(migs, st, opts.To)
	if err != nil {
		return err
	}
	p.Database = db.Name()
	if f.Flags.JSON() {
		return opts.IO.JSON(p)
	}
	return renderPlan(opts.IO, p, opts.dryRun != "")
}

func renderPlan(io *ui.IOStreams, p *migrate.Plan, dry bool) error {
	th := io.Theme()
	t := io.NewTable("version", "file", "transaction", "down", "findings")
	for _, m := range p.Pending {
		down := "yes"
		if m.Irreversible {
			down = "irreversible: " + m.IrreversibleReason
		} else if !m.HasDown {
			down = th.Warn.Render("missing")
		}
		t.Row(fmt.Sprint(m.Version), m.File, txWord(m.Transaction), down, countFindings(th, m.Findings))
	}
	if t.Len() > 0 {
		if err := t.Render(io.Out); err != nil {
			return err
		}
	}
	for _, m := range p.Pending {
		for _, fd := range m.Findings {
			fmt.Fprintf(io.Out, "  %s:%d  %s  %s: %s\n      fix: %s\n", fd.File, fd.Line, severityWord(th, fd.Severity), fd.ID, fd.Message, fd.Fix)
		}
	}
	for _, c := range p.Changed {
		io.Printf("%s: applied file %s was edited since it ran: 'up' refuses without --allow-changed\n", th.Fail.Render("blocked"), c.File)
	}
	for _, d := range p.Dirty {
		io.Printf("%s: %d (%s) is dirty: resolve it with 'deployctl migrate resolve %d --applied|--rolled-back --reason …'\n", th.Fail.Render("blocked"), d.Version, d.File, d.Version)
	}
	prefix := ""
	if dry {
		prefix = "dry run: nothing was changed; "
	}
	io.Printf("%sdatabase %s at version %d: %d pending (set %s)\n", prefix, p.Database, p.Current, len(p.Pending), short(p.SetHash))
	return nil
}

func txWord(tx bool) string {
	if tx {
		return "yes"
	}
	return "no (NO TRANSACTION)"
}

func countFindings(th *ui.Theme, fs []migrate.Finding) string {
	if len(fs) == 0 {
		return th.OK.Render("none")
	}
	e, w := 0, 0
	for _, f := range fs {
		if f.Severity == migrate.SeverityError {
			e++
		} else {
			w++
		}
	}
	return fmt.Sprintf("%d error(s), %d warning(s)", e, w)
}

func severityWord(th *ui.Theme, s string) string {
	if s == migrate.SeverityError {
		return th.Fail.Render(s)
	}
	return th.Warn.Render(s)
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
