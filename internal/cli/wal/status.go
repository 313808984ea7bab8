package wal

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/timeutil"
	"github.com/deployctl/deployctl/pkg/wal"
)

// StatusOptions are the options of wal status.
type StatusOptions struct {
	IO          *ui.IOStreams
	Factory     *app.Factory
	DatabaseURL string
}

// NewCmdStatus returns wal status.
func NewCmdStatus(f *app.Factory, runF func(*StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the WAL archive: newest segment per timeline, gaps, failures, recovery point",
		Long: `Show, per timeline, the archived segments (oldest, newest and when it was
archived), the history file and .partial segments, and the gaps; the server's
archiver (pg_stat_archiver: archived and failed counts, the last failure, the
segments waiting); and the recovery point actually achieved: how long ago the
newest segment was archived, beside archive_timeout. Problems are listed on
stderr; 'wal verify' is the check that fails.`,
		Example: "  deployctl wal status\n  deployctl wal status -o json | jq .seconds.recovery_point",
		Args:    app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return statusRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.DatabaseURL, "database-url", "", "server whose archiver to show (default: the environment's database)")
	return cmd
}

func statusRun(ctx context.Context, opts *StatusOptions) error {
	f := opts.Factory
	a, err := archive(ctx, f, false)
	if err != nil {
		return err
	}
	var srv wal.Server
	if url, err := f.DatabaseURL(ctx, opts.DatabaseURL); err == nil {
		srv = wal.PG{URL: url}
	} else {
		opts.IO.Warnf("not showing the server's archiver: %v", err)
	}
	st, err := a.Status(ctx, srv)
	if err != nil {
		return err
	}
	if f.Flags.JSON() {
		return opts.IO.JSON(st)
	}
	return renderStatus(opts.IO, st)
}

func renderStatus(io *ui.IOStreams, st *wal.Status) error {
	if len(st.Timelines) == 0 {
		io.Printf("the WAL archive is empty: set archive_command (docs/backup.md, WAL archiving)\n")
	} else {
		tb := io.NewTable("timeline", "segments", "oldest", "newest", "archived", "history", "partial", "gaps")
		for _, t := range st.Timelines {
			tb.Row(fmt.Sprint(t.Timeline), fmt.Sprint(t.Segments), t.Oldest, t.Newest, when(t.NewestAt, st.Now),
				yesNo(t.History || t.Timeline == 1), strings.Join(t.Partial, " "), fmt.Sprint(len(t.Gaps)))
		}
		if err := tb.Render(io.Out); err != nil {
			return err
		}
	}
	fmt.Fprintln(io.Out, recoveryLine(st))
	if st.Archiver != nil {
		fmt.Fprintln(io.Out, archiverLine(st.Archiver))
	}
	if st.ServerError != "" {
		io.Warnf("cannot read the server's archiver: %s", st.ServerError)
	}
	for _, p := range st.Problems {
		io.Warnf("%s", p)
	}
	return nil
}

func when(t, now time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339) + " (" + timeutil.FormatDuration(now.Sub(t).Round(time.Second)) + " ago)"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "MISSING"
}

func recoveryLine(st *wal.Status) string {
	rpo, timeout := "unknown (no segment archived)", "unknown"
	if st.RecoveryPoint != nil {
		rpo = timeutil.FormatDuration(st.RecoveryPoint.Round(time.Second))
	}
	if st.ArchiveTimeout != nil {
		timeout = timeutil.FormatDuration(*st.ArchiveTimeout)
	} else if st.Archiver != nil {
		timeout = "off"
	}
	return fmt.Sprintf("recovery point: %s of writes would be lost now (archive_timeout %s)", rpo, timeout)
}

func archiverLine(a *wal.ArchiverStats) string {
	s := fmt.Sprintf("archiver: archive_mode %s, %d archived, %d failed", a.ArchiveMode, a.ArchivedCount, a.FailedCount)
	if a.LastFailedWAL != "" && a.LastFailedTime != nil {
		s += fmt.Sprintf(", last failure %s at %s", a.LastFailedWAL, a.LastFailedTime.UTC().Format(time.RFC3339))
	}
	if a.Ready >= 0 {
		s += fmt.Sprintf(", %d waiting (.ready)", a.Ready)
	}
	if a.CurrentWAL != "" {
		s += ", writing " + a.CurrentWAL
	}
	return s
}
