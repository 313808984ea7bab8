package migrate

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/migrate"
)

// UpOptions are the options of migrate up.
type UpOptions struct {
	IO           *ui.IOStreams
	Factory      *app.Factory
	Flags        *DBFlags
	To           int64
	AllowChanged bool
	LockTimeout  time.Duration
}

// NewCmdUp returns migrate up.
func NewCmdUp(f *app.Factory, fl *DBFlags, runF func(*UpOptions) error) *cobra.Command {
	opts := &UpOptions{IO: f.IO, Factory: f, Flags: fl}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Apply pending migrations",
		Long: `Apply the pending migrations in order, up to --to VERSION when given.

Takes the database's migration lock first (a second 'up' waits at most
--lock-timeout, saying who holds it, then exits 3). Refuses (exit 1) while a
migration is dirty or an applied file was edited since it ran, unless
--allow-changed. Versions applied by plain goose before are adopted: their
checksums are recorded as the files are now.

Each statement waits at most migrations.statement_lock_timeout (default 10s)
for a table lock; while it waits, up names the table and the session holding
it, and when the time runs out the migration fails (rolled back; exit 1)
saying how to end that session. Sessions a killed 'migrate up' left running
in the server are ended first (reported only while a dirty mark stands).`,
		Example: "  deployctl migrate up\n  deployctl migrate up --to 20260101120000 --lock-timeout 5m\n  deployctl migrate up --dry-run",
		Args:    app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := lockTimeoutValid(opts.LockTimeout); err != nil {
				return err
			}
			if opts.To < 0 {
				return app.Usagef("invalid --to %d: use a version from 'deployctl migrate status'", opts.To)
			}
			if runF != nil {
				return runF(opts)
			}
			return upRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().Int64Var(&opts.To, "to", 0, "apply up to and including this version (default: all)")
	completeVersions(cmd, f, fl)
	cmd.Flags().BoolVar(&opts.AllowChanged, "allow-changed", false, "migrate even though applied files were edited since they ran")
	addLockTimeout(cmd, &opts.LockTimeout)
	return cmd
}

func addLockTimeout(cmd *cobra.Command, d *time.Duration) {
	cmd.Flags().DurationVar(d, "lock-timeout", migrate.DefaultLockTimeout, "how long to wait for another migration to finish (then exit 3)")
}

func lockTimeoutValid(d time.Duration) error {
	if d <= 0 {
		return app.Usagef("invalid --lock-timeout %s: use a positive duration such as 30s or 5m", d)
	}
	return nil
}

func upRun(ctx context.Context, opts *UpOptions) error {
	f := opts.Factory
	if f.Flags.DryRun {
		return planRun(ctx, &PlanOptions{IO: opts.IO, Factory: f, Flags: opts.Flags, To: opts.To, dryRun: "up"})
	}
	e, err := engine(ctx, f, opts.Flags, "migrate up", opts.LockTimeout)
	if err != nil {
		return err
	}
	defer e.DB.Close()
	res, err := e.Up(ctx, migrate.UpOptions{To: opts.To, AllowChanged: opts.AllowChanged})
	if rerr := renderResult(opts.IO, f.Flags.JSON(), res, err); rerr != nil {
		return rerr
	}
	return err
}

// renderResult prints what a changing command did, also after a failure.
func renderResult(io *ui.IOStreams, asJSON bool, res *migrate.Result, err error) error {
	if res == nil || (err != nil && len(res.Applied) == 0) {
		return nil
	}
	if asJSON {
		if res.Applied == nil {
			res.Applied = []migrate.Applied{}
		}
		return io.JSON(res)
	}
	if len(res.Applied) > 0 {
		t := io.NewTable("version", "file", "direction", "duration")
		for _, a := range res.Applied {
			t.Row(fmt.Sprint(a.Version), a.File, a.Direction, fmt.Sprintf("%dms", a.DurationMS))
		}
		if err := t.Render(io.Out); err != nil {
			return err
		}
	}
	if res.From == res.To && len(res.Applied) == 0 {
		io.Printf("database %s is up to date at version %d\n", res.Database, res.To)
	} else {
		io.Printf("database %s now at version %d (was %d)\n", res.Database, res.To, res.From)
	}
	return nil
}
