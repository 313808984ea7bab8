package migrate

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
)

// RedoOptions are the options of migrate redo.
type RedoOptions struct {
	IO           *ui.IOStreams
	Factory      *app.Factory
	Flags        *DBFlags
	AllowChanged bool
	LockTimeout  time.Duration
}

// NewCmdRedo returns migrate redo.
func NewCmdRedo(f *app.Factory, fl *DBFlags, runF func(*RedoOptions) error) *cobra.Command {
	opts := &RedoOptions{IO: f.IO, Factory: f, Flags: fl}
	cmd := &cobra.Command{
		Use:     "redo",
		Short:   "Roll back the newest migration and apply it again",
		Long:    "Roll back the newest applied migration and apply it again, under the lock.\nDestructive: asks for confirmation (or --yes).",
		Example: "  deployctl migrate redo --yes",
		Args:    app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := lockTimeoutValid(opts.LockTimeout); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return redoRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.AllowChanged, "allow-changed", false, "redo even though applied files were edited since they ran")
	addLockTimeout(cmd, &opts.LockTimeout)
	return cmd
}

func redoRun(ctx context.Context, opts *RedoOptions) error {
	f := opts.Factory
	e, err := engine(ctx, f, opts.Flags, "migrate redo", opts.LockTimeout)
	if err != nil {
		return err
	}
	defer e.DB.Close()
	if f.Flags.DryRun {
		return downDryRun(ctx, &DownOptions{IO: opts.IO, Factory: f, Flags: opts.Flags, To: -1}, e)
	}
	if err := confirmDown(ctx, f, e, -1, "roll back and re-apply"); err != nil {
		return err
	}
	res, err := e.Redo(ctx, opts.AllowChanged)
	if rerr := renderResult(opts.IO, f.Flags.JSON(), res, err); rerr != nil {
		return rerr
	}
	return err
}
