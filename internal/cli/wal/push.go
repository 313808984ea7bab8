package wal

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
)

// PushOptions are the options of wal push.
type PushOptions struct {
	IO      *ui.IOStreams
	Factory *app.Factory
	Path    string
}

// NewCmdPush returns wal push.
func NewCmdPush(f *app.Factory, runF func(*PushOptions) error) *cobra.Command {
	opts := &PushOptions{IO: f.IO, Factory: f}
	return &cobra.Command{
		Use:   "push PATH",
		Short: "Archive one WAL file (PostgreSQL's archive_command, %p)",
		Long: `Archive the WAL file at PATH (relative to the working folder, which is the data
folder when PostgreSQL runs it) into the backup storage. Pushing a file that is
archived already with the same content succeeds; with other content it fails
naming both checksums and never overwrites. Exit 4 when the storage cannot be
reached: PostgreSQL keeps the file and retries.`,
		Example: "  archive_command = 'deployctl --config-dir /srv/app/environments --env production wal push %p'",
		Args:    app.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Path = args[0]
			if runF != nil {
				return runF(opts)
			}
			return pushRun(cmd.Context(), opts)
		},
	}
}

func pushRun(ctx context.Context, opts *PushOptions) error {
	a, err := archive(ctx, opts.Factory, false)
	if err != nil {
		return err
	}
	return a.Push(ctx, opts.Path)
}
