package wal

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/backup"
	"github.com/deployctl/deployctl/pkg/timeutil"
	"github.com/deployctl/deployctl/pkg/wal"
)

// VerifyOptions are the options of wal verify.
type VerifyOptions struct {
	IO      *ui.IOStreams
	Factory *app.Factory
	MaxAge  timeutil.Duration
}

// NewCmdVerify returns wal verify.
func NewCmdVerify(f *app.Factory, runF func(*VerifyOptions) error) *cobra.Command {
	opts := &VerifyOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Fail when the WAL archive has a gap or is stale (for cron)",
		Long: `Check that the archive holds every WAL segment from the start of the oldest base
backup (without base backups: the oldest archived segment) to the newest, along
the newest timeline's history, and with --max-age that the newest segment is
younger than that. Made for cron: silent on success, one line per problem on
stderr and exit 1 on failure, exit 4 when the storage cannot be reached; -o json
prints a report for monitoring.`,
		Example: "  deployctl wal verify --max-age 5m\n  deployctl wal verify -o json",
		Args:    app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.MaxAge < 0 {
				return app.Usagef("invalid --max-age %s: must be positive", opts.MaxAge.String())
			}
			if runF != nil {
				return runF(opts)
			}
			return verifyRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().Var(&opts.MaxAge, "max-age", "fail when the newest archived segment is older than this (e.g. 5m)")
	return cmd
}

func verifyRun(ctx context.Context, opts *VerifyOptions) error {
	f := opts.Factory
	a, err := archive(ctx, f, true)
	if err != nil {
		return err
	}
	start, err := oldestBaseStart(ctx, a)
	if err != nil {
		return err
	}
	rep, err := a.Verify(ctx, wal.VerifyOptions{Start: start, MaxAge: time.Duration(opts.MaxAge)})
	if err != nil {
		return err
	}
	if f.Flags.JSON() {
		if err := opts.IO.JSON(rep); err != nil {
			return err
		}
	} else {
		for _, p := range rep.Problems {
			fmt.Fprintln(opts.IO.ErrOut, "wal verify: "+p)
		}
	}
	if !rep.OK {
		return app.ErrFailed
	}
	return nil
}

// oldestBaseStart is the start segment of the oldest kept base backup, or
// "" without one.
func oldestBaseStart(ctx context.Context, a *wal.Archive) (string, error) {
	c, err := backup.Scan(ctx, a.Store)
	if err != nil {
		return "", err
	}
	start, oldest := "", time.Time{}
	for _, m := range c.Backups {
		if m.Base == nil || m.Base.StartWAL == "" {
			continue
		}
		if start == "" || m.CreatedAt.Before(oldest) {
			start, oldest = m.Base.StartWAL, m.CreatedAt
		}
	}
	return start, nil
}
