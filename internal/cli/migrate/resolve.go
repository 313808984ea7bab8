package migrate

import (
	"context"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
)

// ResolveOptions are the options of migrate resolve.
type ResolveOptions struct {
	IO          *ui.IOStreams
	Factory     *app.Factory
	Flags       *DBFlags
	Version     int64
	Applied     bool
	RolledBack  bool
	LockTimeout time.Duration
}

// NewCmdResolve returns migrate resolve.
func NewCmdResolve(f *app.Factory, fl *DBFlags, runF func(*ResolveOptions) error) *cobra.Command {
	opts := &ResolveOptions{IO: f.IO, Factory: f, Flags: fl}
	cmd := &cobra.Command{
		Use:   "resolve VERSION --applied|--rolled-back --reason TEXT",
		Short: "Clear a dirty mark, or accept an edited applied file",
		Long: `After a migration failed outside a transaction it is marked dirty and 'up'
refuses to run. Look at the schema, finish or undo the migration by hand, then
tell deployctl which it is:

  --applied      the migration's effect is in place: it is recorded as applied
  --rolled-back  it is not: it is recorded as not applied (up runs it again)

On an applied migration whose file was edited since, --applied accepts the
edit and records the file's new checksum. --reason is required; the
resolution is kept in the database (deployctl_migration_resolutions) and in
the history.`,
		Example: "  deployctl migrate resolve 20260101120000 --rolled-back --reason \"dropped the half-built index by hand\"",
		Args:    app.ExactArgs(1),
		ValidArgsFunction: func(_ *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return versions(f, fl, prefix), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || v < 1 {
				return app.Usagef("invalid VERSION %q: use a version from 'deployctl migrate status'", args[0])
			}
			opts.Version = v
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return resolveRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Applied, "applied", false, "the migration's effect is in place")
	cmd.Flags().BoolVar(&opts.RolledBack, "rolled-back", false, "the migration's effect is not in place")
	addLockTimeout(cmd, &opts.LockTimeout)
	return cmd
}

func (o *ResolveOptions) validate() error {
	if o.Applied == o.RolledBack {
		return app.Usagef("say what state the migration is in: pass exactly one of --applied or --rolled-back")
	}
	if o.Factory.Flags.Reason == "" {
		return app.Usagef("--reason is required: say what you checked or did by hand")
	}
	return lockTimeoutValid(o.LockTimeout)
}

func resolveRun(ctx context.Context, opts *ResolveOptions) error {
	f := opts.Factory
	e, err := engine(ctx, f, opts.Flags, "migrate resolve", opts.LockTimeout)
	if err != nil {
		return err
	}
	defer e.DB.Close()
	if f.Flags.DryRun {
		opts.IO.Printf("dry run: would resolve version %d as %s; nothing was changed\n", opts.Version, map[bool]string{true: "applied", false: "rolled back"}[opts.Applied])
		return nil
	}
	res, err := e.Resolve(ctx, opts.Version, opts.Applied, f.Flags.Reason, f.Actor())
	if err != nil {
		return err
	}
	if f.Flags.JSON() {
		return opts.IO.JSON(res)
	}
	opts.IO.Printf("resolved %s (was %s) as %s: %s\n", res.File, res.Was, res.Resolution, res.Reason)
	return nil
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
