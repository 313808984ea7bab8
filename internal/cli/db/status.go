package db

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/postgres/failover"
)

// StatusOptions are the options of db status.
type StatusOptions struct {
	IO          *ui.IOStreams
	Factory     *app.Factory
	Flags       *Flags
	ReplicaURLs []string
	MaxLag      time.Duration
}

// NewCmdStatus returns db status.
func NewCmdStatus(f *app.Factory, fl *Flags, runF func(*StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{IO: f.IO, Factory: f, Flags: fl}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the primary, its replicas and their replication lag",
		Long: `Ask the primary who streams from it (pg_stat_replication) and each replica
where it stands (pg_is_in_recovery, received and replayed WAL, the age of the
last replayed transaction). Lag is in bytes behind the primary's current WAL
position and in seconds.

Exit 0 when the primary answers and every listed replica streams; 1 when a
replica is down, not streaming, not a replica at all, or (with --max-lag)
further behind than that; 4 when the primary cannot be reached. The table is
printed in every case, so the command fits a cron job or a monitoring check.`,
		Example: `  deployctl db status -e production
  deployctl db status --replica-url postgres://app@db-2:5432/api --replica-url postgres://app@db-3:5432/api
  deployctl db status -o json | jq '.replicas[].lag_bytes'
  deployctl db status -e production --max-lag 30s || page-oncall`,
		Args: app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.MaxLag < 0 {
				return app.Usagef("invalid --max-lag %s", opts.MaxLag)
			}
			if runF != nil {
				return runF(opts)
			}
			return statusRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringArrayVar(&opts.ReplicaURLs, "replica-url", nil, "a replica to inspect, repeatable (default: database.replicas)")
	cmd.Flags().DurationVar(&opts.MaxLag, "max-lag", 0, "fail (exit 1) when a replica's lag in seconds exceeds this (0: no limit)")
	return cmd
}

func statusRun(ctx context.Context, opts *StatusOptions) error {
	f := opts.Factory
	primary, err := f.DatabaseURL(ctx, opts.Flags.DatabaseURL)
	if err != nil {
		return err
	}
	replicas := opts.ReplicaURLs
	if len(replicas) == 0 {
		if replicas, err = replicaURLs(ctx, f); err != nil {
			return err
		}
	}
	st := failover.Read(ctx, primary, replicas)
	if f.Flags.JSON() {
		if err := opts.IO.JSON(st); err != nil {
			return err
		}
	} else if err := render(opts.IO, st); err != nil {
		return err
	}
	return verdict(opts.IO, st, opts.MaxLag)
}

func verdict(io *ui.IOStreams, st failover.Status, maxLag time.Duration) error {
	if !st.Primary.Reachable {
		return st.Primary.Err()
	}
	if st.Primary.Role != "primary" {
		return fmt.Errorf("%s is in recovery: it is a replica, not the primary; point DATABASE_URL at the primary", st.Primary.Server)
	}
	failed := false
	for _, r := range st.Replicas {
		switch {
		case !r.Reachable || r.Role != "replica" || r.Receiver != "streaming":
			failed = true
		case maxLag > 0 && r.LagSeconds != nil && *r.LagSeconds > maxLag.Seconds():
			io.Warnf("%s lags %.1fs behind, more than --max-lag %s", r.Server, *r.LagSeconds, maxLag)
			failed = true
		}
	}
	if failed {
		return app.ErrFailed
	}
	return nil
}

func render(io *ui.IOStreams, st failover.Status) error {
	tb := io.NewTable("ROLE", "SERVER", "STATE", "LSN", "LAG", "DETAIL")
	p := st.Primary
	tb.Row(orDash(p.Role), p.Server, state(p), orDash(p.LSN), "-", detail(p, fmt.Sprintf("%d standby(s) connected", len(st.Standbys))))
	for _, r := range st.Replicas {
		tb.Row(orDash(r.Role), r.Server, state(r), orDash(r.LSN), lag(r), detail(r, ""))
	}
	if err := tb.Render(io.Out); err != nil {
		return err
	}
	if len(st.Standbys) == 0 {
		return nil
	}
	fmt.Fprintln(io.Out, "\nstreaming from the primary (pg_stat_replication):")
	sb := io.NewTable("NAME", "CLIENT", "STATE", "SYNC", "REPLAY LSN", "LAG")
	for _, s := range st.Standbys {
		sb.Row(orDash(s.Name), s.Client, s.State, s.Sync, orDash(s.ReplayLSN), bytesAndSeconds(s.LagBytes, s.LagSeconds))
	}
	return sb.Render(io.Out)
}

func state(n failover.Node) string {
	switch {
	case !n.Reachable:
		return "unreachable"
	case n.Error != "":
		return "error"
	case n.Role == "primary":
		return "ok"
	case n.Paused:
		return "replay paused"
	}
	return n.Receiver
}

func lag(n failover.Node) string {
	if n.Role != "replica" {
		return "-"
	}
	return bytesAndSeconds(n.LagBytes, n.LagSeconds)
}

func bytesAndSeconds(b *int64, s *float64) string {
	bs := "-"
	if b != nil {
		bs = ui.HumanBytes(*b)
	}
	return bs + " / " + seconds(s)
}

func detail(n failover.Node, ok string) string {
	if n.Error != "" {
		return n.Error
	}
	if n.Role == "primary" {
		return ok
	}
	return "version " + n.Version
}
