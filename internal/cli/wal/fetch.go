package wal

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/wal"
)

// FetchOptions are the options of wal fetch.
type FetchOptions struct {
	IO      *ui.IOStreams
	Factory *app.Factory
	Name    string
	Dest    string
}

// NewCmdFetch returns wal fetch.
func NewCmdFetch(f *app.Factory, runF func(*FetchOptions) error) *cobra.Command {
	opts := &FetchOptions{IO: f.IO, Factory: f}
	return &cobra.Command{
		Use:   "fetch NAME PATH",
		Short: "Restore one archived WAL file (PostgreSQL's restore_command, %f %p)",
		Long: `Write the archived WAL file NAME to PATH, after checking its sha256. A file the
archive does not hold exits 1 without a message: PostgreSQL asks for files that
do not exist (the next timeline's history, the segment after the last) and
takes that answer as the end of the archive. A corrupt file exits 1 with a
message and is not written; exit 4 when the storage cannot be reached.`,
		Example: "  restore_command = 'deployctl --config-dir /srv/app/environments --env production wal fetch %f %p'",
		Args:    app.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name, opts.Dest = args[0], args[1]
			if runF != nil {
				return runF(opts)
			}
			return fetchRun(cmd.Context(), opts)
		},
	}
}

func fetchRun(ctx context.Context, opts *FetchOptions) error {
	a, err := archive(ctx, opts.Factory, true)
	if err != nil {
		return err
	}
	err = a.Fetch(ctx, opts.Name, opts.Dest)
	if errors.Is(err, wal.ErrNotFound) {
		return app.ErrFailed
	}
	return err
}
