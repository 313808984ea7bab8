package migrate

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/migrate"
)

// ValidateOptions are the options of migrate validate.
type ValidateOptions struct {
	IO      *ui.IOStreams
	Factory *app.Factory
	Flags   *DBFlags
	Strict  bool
	Offline bool
}

// ValidateReport is the JSON of migrate validate.
type ValidateReport struct {
	OK       bool              `json:"ok"`
	Files    int               `json:"files"`
	Findings []migrate.Finding `json:"findings"`
	Changed  []migrate.Changed `json:"changed"`
}

// NewCmdValidate returns migrate validate.
func NewCmdValidate(f *app.Factory, fl *DBFlags, runF func(*ValidateOptions) error) *cobra.Command {
	opts := &ValidateOptions{IO: f.IO, Factory: f, Flags: fl}
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Lint the migrations and check applied files for edits",
		Long: `Parse every migration file, lint it, and (unless --offline) name every applied
file edited since it ran. Exit 1 on an error finding or an edited file; with
--strict also on warnings.

Rules: missing-down, drop-table, drop-column, truncate, alter-column-type,
create-index-not-concurrently, concurrently-in-transaction (error),
add-column-not-null-without-default (error), constraint-without-not-valid,
no-transaction-multiple-statements. Tables created in the same file are not
flagged. A migration marked '-- deployctl:irreversible <reason>' needs no
down section. Lints every file, applied or not; 'plan' shows the pending ones.`,
		Example: "  deployctl migrate validate\n  deployctl migrate validate --offline --strict --dir db/migrations",
		Args:    app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return validateRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Strict, "strict", false, "fail on warnings too")
	cmd.Flags().BoolVar(&opts.Offline, "offline", false, "do not connect: skip the check of applied files")
	return cmd
}

func validateRun(ctx context.Context, opts *ValidateOptions) error {
	f := opts.Factory
	_, migs, err := load(f, opts.Flags)
	if err != nil {
		return err
	}
	rep := ValidateReport{OK: true, Files: len(migs), Findings: migrate.LintAll(migs), Changed: []migrate.Changed{}}
	if rep.Findings == nil {
		rep.Findings = []migrate.Finding{}
	}
	if !opts.Offline {
		db, err := open(ctx, f, opts.Flags, "migrate validate")
		if err != nil {
			return err
		}
		defer db.Close()
		st, err := db.ReadState(ctx)
		if err != nil {
			return err
		}
		if ch := migrate.ChangedFiles(migs, st); ch != nil {
			rep.Changed = ch
		}
	}
	for _, fd := range rep.Findings {
		if fd.Severity == migrate.SeverityError || opts.Strict {
			rep.OK = false
		}
	}
	rep.OK = rep.OK && len(rep.Changed) == 0
	if f.Flags.JSON() {
		if err := opts.IO.JSON(rep); err != nil {
			return err
		}
	} else {
		renderValidate(opts.IO, rep)
	}
	if !rep.OK {
		return app.ErrFailed
	}
	return nil
}

func renderValidate(io *ui.IOStreams, rep ValidateReport) {
	th := io.Theme()
	for _, fd := range rep.Findings {
		fmt.Fprintf(io.Out, "%s:%d: %s [%s] %s\n    fix: %s\n", fd.File, fd.Line, severityWord(th, fd.Severity), fd.ID, fd.Message, fd.Fix)
	}
	for _, c := range rep.Changed {
		fmt.Fprintf(io.Out, "%s: %s [edited] applied file changed since it ran (recorded sha256 %s, now %s)\n    fix: revert the edit and put the change in a new migration, or accept it with 'deployctl migrate resolve %d --applied --reason …'\n",
			c.File, th.Fail.Render("error"), short(c.Recorded), short(c.Now), c.Version)
	}
	verdict := th.OK.Render("ok")
	if !rep.OK {
		verdict = th.Fail.Render("failed")
	}
	io.Printf("%s: %d file(s), %d finding(s), %d edited\n", verdict, rep.Files, len(rep.Findings), len(rep.Changed))
}
