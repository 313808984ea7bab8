package db

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/postgres/failover"
	"github.com/deployctl/deployctl/pkg/provider"
)

// PromoteOptions are the options of db promote.
type PromoteOptions struct {
	IO         *ui.IOStreams
	Factory    *app.Factory
	Flags      *Flags
	ReplicaURL string
	Force      bool
	Wait       time.Duration
}

// PromoteReport is the JSON of db promote.
type PromoteReport struct {
	Env       string        `json:"env"`
	Replica   failover.Node `json:"replica"`
	Primary   failover.Node `json:"primary"`
	PrimaryUp bool          `json:"primary_up"`
	Promoted  bool          `json:"promoted"`
	DryRun    bool          `json:"dry_run,omitempty"`
	NextSteps []string      `json:"next_steps"`
}

// NewCmdPromote returns db promote.
func NewCmdPromote(f *app.Factory, fl *Flags, runF func(*PromoteOptions) error) *cobra.Command {
	opts := &PromoteOptions{IO: f.IO, Factory: f, Flags: fl}
	cmd := &cobra.Command{
		Use:   "promote REPLICA_URL",
		Short: "Promote a streaming replica to primary (disaster recovery)",
		Long: `The first step of recovering from a lost primary: turn a streaming replica
into the new primary.

Before anything changes the command checks that REPLICA_URL is a replica
(pg_is_in_recovery), shows how far behind it is, and looks at the configured
primary: while the primary still answers it refuses (two primaries taking
writes cannot be merged again) unless --force. It asks you to type the
environment's name (or --yes), takes the environment's lock, runs
pg_promote(wait => true), verifies the server left recovery, records the
promotion in the history and prints what to do next: point DATABASE_URL at
the new primary. --dry-run stops after the checks.`,
		Example: `  deployctl db promote postgres://app@db-2:5432/api -e production --reason "db-1 lost (INC-42)"
  deployctl db promote postgres://app@db-2:5432/api -e production --dry-run
  deployctl db promote "$REPLICA_URL" -e production --yes --force   # old primary fenced but still up`,
		Args: app.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ReplicaURL = args[0]
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return promoteRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Force, "force", false, "promote although the primary still answers (only when it is fenced off)")
	cmd.Flags().DurationVar(&opts.Wait, "wait", time.Minute, "how long pg_promote may take")
	return cmd
}

func (o *PromoteOptions) validate() error {
	if strings.TrimSpace(o.ReplicaURL) == "" {
		return app.Usagef("give the replica's connection URL: deployctl db promote postgres://…")
	}
	if o.Wait < time.Second {
		return app.Usagef("invalid --wait %s: at least 1s", o.Wait)
	}
	return nil
}

func promoteRun(ctx context.Context, opts *PromoteOptions) error {
	f := opts.Factory
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	primary, perr := f.DatabaseURL(ctx, opts.Flags.DatabaseURL)
	if perr != nil && !opts.Force {
		return fmt.Errorf("cannot tell whether the primary still answers (%v): pass --force once you know it is down", perr)
	}
	if perr != nil {
		opts.IO.Warnf("the primary is unknown (%v); going on because of --force", perr)
	}
	check, err := failover.Precheck(ctx, primary, opts.ReplicaURL)
	rep := PromoteReport{Env: cfg.Env, Replica: check.Replica, Primary: check.Primary, PrimaryUp: check.PrimaryUp, NextSteps: []string{}}
	if err != nil {
		return err
	}
	showCheck(opts.IO, check, primary != "")
	if check.PrimaryUp && !opts.Force {
		return fmt.Errorf("the primary %s still answers as a primary: promoting %s now would give two primaries taking writes. Stop or fence the old primary first; pass --force only when it can no longer take writes", check.Primary.Server, check.Replica.Server)
	}
	if f.Flags.DryRun {
		rep.DryRun = true
		opts.IO.Printf("dry run: %s would be promoted; nothing was changed\n", check.Replica.Server)
		e, err := engine(ctx, f)
		if err != nil {
			return err
		}
		e.DryRun(ctx, check)
		return output(opts, rep)
	}
	q := fmt.Sprintf("Promote %s to be the primary of %s? The old primary must never take writes again.", check.Replica.Server, cfg.Env)
	confirm := func() error { return opts.IO.ConfirmTyped(q, cfg.Env, f.Flags.Yes) }
	if cfg.Protected { // the rule of protected environments: --yes only with --confirm ENV
		confirm = func() error {
			return f.Confirm("promote "+check.Replica.Server, []string{q}, false)
		}
	}
	if err := confirm(); err != nil {
		return err
	}
	e, err := engine(ctx, f)
	if err != nil {
		return err
	}
	e.Progress = opts.IO.Printf
	if err := e.Promote(ctx, check, opts.ReplicaURL, opts.Wait); err != nil {
		return err
	}
	rep.Promoted, rep.NextSteps = true, nextSteps(cfg.Database.URLFrom, check.Replica.Server)
	return output(opts, rep)
}

// engine is the failover engine: the environment's lock where its
// provider has one, and its history.
func engine(ctx context.Context, f *app.Factory) (*failover.Engine, error) {
	guard, err := f.Guard(ctx)
	if err != nil && !errors.Is(err, provider.ErrUnsupported) {
		return nil, err
	}
	return &failover.Engine{Lock: guard, History: f.Recorder()}, nil
}

func showCheck(io *ui.IOStreams, c failover.Check, primaryKnown bool) {
	r := c.Replica
	io.Printf("replica   %s: in recovery, WAL receiver %s, replayed %s (received %s), lag %s\n", r.Server, r.Receiver, orDash(r.LSN), orDash(r.ReceiveLSN), bytesAndSeconds(r.LagBytes, r.LagSeconds))
	switch {
	case !primaryKnown:
		io.Printf("primary   unknown (no database URL)\n")
	case c.PrimaryUp:
		io.Printf("primary   %s: STILL ANSWERS as a primary at %s\n", c.Primary.Server, c.Primary.LSN)
	case c.Primary.Reachable:
		io.Printf("primary   %s: answers but is not a primary (%s)\n", c.Primary.Server, orDash(c.Primary.Error+c.Primary.Role))
	default:
		io.Printf("primary   %s: unreachable (%s)\n", c.Primary.Server, c.Primary.Error)
	}
	if r.ReceiveLSN != "" && r.ReceiveLSN != r.LSN {
		io.Printf("note: the replica has received WAL it has not replayed yet; promotion replays it first\n")
	}
}

func nextSteps(urlFrom, newPrimary string) []string {
	if urlFrom == "" {
		urlFrom = "DATABASE_URL"
	}
	return []string{
		fmt.Sprintf("point %s at the new primary %s in the environment's variables (and database.url if set), then: deployctl env validate", urlFrom, newPrimary),
		"restart or redeploy the application so that it connects to the new primary",
		"keep the old primary down: never start it again as a primary; rebuild it as a replica of the new one (pg_basebackup -R)",
		"update database.replicas and check with: deployctl db status",
		"take a fresh backup from the new primary: deployctl backup create",
	}
}

func output(opts *PromoteOptions, rep PromoteReport) error {
	if opts.Factory.Flags.JSON() {
		return opts.IO.JSON(rep)
	}
	if rep.Promoted {
		fmt.Fprintf(opts.IO.Out, "%s is now the primary of %s (pg_is_in_recovery() = false).\n\nNext steps:\n", rep.Replica.Server, rep.Env)
		for i, s := range rep.NextSteps {
			fmt.Fprintf(opts.IO.Out, "  %d. %s\n", i+1, s)
		}
	}
	return nil
}
