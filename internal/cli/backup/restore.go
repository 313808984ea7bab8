package backup

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/backup"
	"github.com/deployctl/deployctl/pkg/postgres"
)

// RestoreOptions are the options of backup restore.
type RestoreOptions struct {
	IO         *ui.IOStreams
	Factory    *app.Factory
	Flags      *DBFlags
	Ref        string
	TargetURL  string
	Clean      bool
	Jobs       int
	KeepOwners bool
	// Type base: a point-in-time restore into DataDir (restore_base.go).
	Type     string
	ToTime   string
	ToLSN    string
	ToLatest bool
	DataDir  string
	Pause    bool
	target   backup.RecoveryTarget
}

// RestoreReport is the JSON of backup restore.
type RestoreReport = backup.RestoreReport

// NewCmdRestore returns backup restore.
func NewCmdRestore(f *app.Factory, fl *DBFlags, runF func(*RestoreOptions) error) *cobra.Command {
	opts := &RestoreOptions{IO: f.IO, Factory: f, Flags: fl}
	cmd := &cobra.Command{
		Use:   "restore [ID|latest]",
		Short: "Restore a backup into the environment's database or --target-url",
		Long: `Restore a backup with pg_restore -j (owners and privileges dropped unless
--keep-owners), then compare every table's row count with the manifest.

The target is --target-url, else the environment's own database, which asks you
to type the environment's name (or --yes). A target that already holds tables or
functions is refused unless --clean (drop the backup's objects first). The
manifest's own checksum and the dump's sha256 are checked before the target is
touched. The database's settings (ALTER DATABASE/ROLE … SET) and comment are
replayed on the target; a role missing there is a warning.

While it runs the target holds the table deployctl_restore_in_progress and the
history a "started" entry; a restore that does not finish leaves both, and the
next restore into that target refuses without --clean. pg_restore and its
workers die with deployctl. Takes the environment's lock; recorded in the
history.

--type base --data-dir DIR (--to-time T | --to-lsn L | --to-latest) builds a
PostgreSQL data folder for a point-in-time restore instead: from the base
backup named, or by default the newest one consistent before the target, with
recovery.signal, restore_command (this deployctl's 'wal fetch %f %p' with
absolute --config-dir and --env), the target, recovery_target_timeline=latest
and recovery_target_action=promote (--pause: pause). DIR must be empty or new
(exit 2); the backup's sha256 is checked while it is extracted (a mismatch
empties DIR again). The folder is not started: start PostgreSQL on it and it
replays the archived WAL to the target. Run as root, the folder goes to the
postgres user.`,
		Example: "  deployctl backup restore latest --target-url postgres://app@localhost/app_copy\n  deployctl backup restore 20261125T030000Z-a1b2 --clean --reason \"bad migration\"\n  deployctl backup restore --type base --to-time 2026-11-25T17:58:00Z --data-dir /var/lib/postgresql/15/restored",
		Args:    app.MaximumNArgs(1),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
			return backupIDs(cmd.Context(), f, args, prefix), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Ref = args[0]
			}
			if err := opts.validate(cmd); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			if opts.Type == backup.TypeBase {
				return restoreBaseRun(cmd.Context(), opts)
			}
			return restoreRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.TargetURL, "target-url", "", "database to restore into (default: the environment's database)")
	cmd.Flags().BoolVar(&opts.Clean, "clean", false, "drop the backup's objects in a non-empty target first")
	cmd.Flags().IntVarP(&opts.Jobs, "jobs", "j", 0, "parallel pg_restore jobs (default: the number of cores)")
	cmd.Flags().BoolVar(&opts.KeepOwners, "keep-owners", false, "keep owners and privileges (the roles must exist in the target)")
	opts.baseFlags(cmd)
	return cmd
}

func restoreRun(ctx context.Context, opts *RestoreOptions) error {
	f := opts.Factory
	e, cfg, err := engine(ctx, f)
	if err != nil {
		return err
	}
	m, err := resolveLogical(ctx, e, opts.Ref)
	if err != nil {
		return err
	}
	own := opts.TargetURL == ""
	target := opts.TargetURL
	if own {
		if target, err = f.DatabaseURL(ctx, opts.Flags.DatabaseURL); err != nil {
			return err
		}
	}
	rep := &RestoreReport{ID: m.ID, Target: postgres.Redact(target), Problems: []string{}}
	if err := opts.precheck(ctx, m, target); err != nil {
		return err
	}
	if f.Flags.DryRun {
		rep.DryRun, rep.OK = true, true
		opts.IO.Printf("dry run: would restore backup %s (%s, %d tables, %d rows) into %s%s\n", m.ID,
			m.CreatedAt.Format(time.RFC3339), len(m.Tables), m.Rows(), rep.Target, map[bool]string{true: " after dropping its objects (--clean)"}[opts.Clean])
		return opts.render(rep)
	}
	if err := opts.confirm(cfg.Env, own, m, rep.Target); err != nil {
		return err
	}
	if e.Lock, err = f.Guard(ctx); err != nil {
		return err
	}
	ids, err := identities(cfg, m)
	if err != nil {
		return err
	}
	res, err := e.Restore(ctx, m, backup.RestoreOptions{TargetURL: target, Clean: opts.Clean, Jobs: opts.Jobs, KeepOwners: opts.KeepOwners, Identities: ids})
	if err != nil {
		return err
	}
	rep.Problems, rep.Warnings, rep.OK, rep.DurationMS = res.Problems, res.Warnings, len(res.Problems) == 0, res.Duration.Milliseconds()
	return opts.render(rep)
}

// precheck refuses, before asking, a manifest changed after it was
// written, and without --clean a non-empty target or one left
// half-restored.
func (o *RestoreOptions) precheck(ctx context.Context, m *backup.Manifest, target string) error {
	if err := backup.CheckManifest(m); err != nil {
		return fmt.Errorf("%w: refusing to restore backup %s; restore another backup ('deployctl backup list')", err, m.ID)
	}
	return backup.CheckTarget(ctx, target, o.Clean)
}

// confirm follows the one rule (deployctl help confirmations), and asks
// for the environment's name whenever the target is the environment's own
// database.
func (o *RestoreOptions) confirm(env string, own bool, m *backup.Manifest, target string) error {
	f := o.Factory
	plan := []string{
		fmt.Sprintf("backup %s (%s, %d tables, %d rows)", m.ID, m.CreatedAt.Format(time.RFC3339), len(m.Tables), m.Rows()),
		"into " + target,
	}
	if own {
		plan[1] = fmt.Sprintf("into the %s environment's own database %s", env, target)
	}
	if o.Clean {
		plan = append(plan, "after dropping what the target holds (--clean)")
	}
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	if !own || cfg.Protected {
		return f.Confirm("restore backup "+m.ID, plan, false)
	}
	if f.Flags.Yes {
		return nil
	}
	if !o.IO.StdinTTY {
		return f.Confirm("restore backup "+m.ID, plan, false) // the refusal that names the action and the flag
	}
	return o.IO.ConfirmTyped("This restores "+strings.Join(plan, " ")+".", env, false)
}

// lock takes the environment's lock for the restore.
func (o *RestoreOptions) render(rep *RestoreReport) error {
	if o.Factory.Flags.JSON() {
		if err := o.IO.JSON(rep); err != nil {
			return err
		}
	} else {
		for _, w := range rep.Warnings {
			o.IO.Warnf("%s", w)
		}
		for _, p := range rep.Problems {
			fmt.Fprintln(o.IO.ErrOut, "backup restore: "+p)
		}
		if rep.OK && !rep.DryRun {
			o.IO.Printf("restored backup %s into %s in %s; every table has its row count\n", rep.ID, rep.Target, (time.Duration(rep.DurationMS) * time.Millisecond).Round(100*time.Millisecond))
		}
	}
	if !rep.OK {
		return app.ErrFailed
	}
	return nil
}
