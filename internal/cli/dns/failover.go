package dns

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/dns"
)

// DefaultTimeout is how long failover waits for the change to be in sync;
// Route 53 usually needs under a minute.
const DefaultTimeout = 10 * time.Minute

// FailoverOptions are the options of dns failover.
type FailoverOptions struct {
	IO      *ui.IOStreams
	Factory *app.Factory
	To      string
	Back    bool
	Timeout time.Duration
}

// NewCmdFailover returns dns failover.
func NewCmdFailover(f *app.Factory, runF func(*FailoverOptions) error) *cobra.Command {
	opts := &FailoverOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "failover (--to secondary|primary | --back)",
		Short: "Point the PRIMARY record at the standby zone's load balancer, or back",
		Long: `--to secondary points the PRIMARY failover record at the SECONDARY record's
target (the standby zone's load balancer) in one atomic change batch: DELETE
the record exactly as read, CREATE it with the new target and its own set
identifier and health check. If anybody changed the record since it was read,
the provider refuses the whole batch and nothing changes. The PRIMARY's own
target is kept in the environment's state (key dns-failover), so that
--back (the same as --to primary) restores it exactly.

It takes the environment lock, records the change in the history, asks for
the environment's name in a protected environment (--yes --confirm ENV
without a terminal), then waits until the provider reports the change INSYNC
(at most --timeout) and reads the record set back. Ctrl-C or --timeout stop
the wait, not the change: it says so and how to check it. --dry-run prints the
change batch (as 'aws route53 change-resource-record-sets --change-batch'
takes it) and changes nothing.

JSON: {"to","where","before","after","changes":[…],"changed","dry_run",
"change_id","status","note"}`,
		Example: `  deployctl dns failover --to secondary -e production --dry-run
  deployctl dns failover --to secondary -e production --reason "eu-west-1 outage"
  deployctl dns failover --back -e production --yes --confirm production`,
		Args: app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.validate(cmd.Flags().Changed("to")); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return failoverRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.To, "to", "", "secondary (the standby zone) or primary")
	cmd.Flags().BoolVar(&opts.Back, "back", false, "the same as --to primary")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", DefaultTimeout, "how long to wait for the change to be INSYNC (0: no limit)")
	return cmd
}

// validate checks the flags without I/O.
func (o *FailoverOptions) validate(toGiven bool) error {
	switch {
	case o.Back && toGiven && o.To != "primary":
		return app.Usagef("--back is --to primary: it cannot go with --to %s", o.To)
	case o.Back:
		o.To = "primary"
	case !toGiven:
		return app.Usagef("say where to: --to secondary (the standby zone) or --to primary (--back)")
	case o.To != "secondary" && o.To != "primary":
		return app.Usagef("invalid --to %q: want secondary or primary", o.To)
	}
	if o.Timeout < 0 {
		return app.Usagef("invalid --timeout %s: want a duration of 0 or more", o.Timeout)
	}
	return nil
}

func failoverRun(ctx context.Context, opts *FailoverOptions) error {
	f := opts.Factory
	e, err := engine(ctx, f, true)
	if err != nil {
		return err
	}
	p, err := e.PlanFailover(ctx, opts.To)
	if err != nil {
		return err
	}
	if len(p.Batch) == 0 {
		opts.IO.Printf("%s already answers with %s (%s): nothing changed\n", p.Where, p.Want, opts.To)
		return output(opts, dns.Result{Plan: p})
	}
	if f.Flags.DryRun {
		return dryRun(opts, p)
	}
	if err := f.Confirm(fmt.Sprintf("point %s at the %s zone", p.Where.Name, opts.To), p.Lines(), true); err != nil {
		return err
	}
	var shown bool
	e.Progress = progress(opts.IO, &shown)
	res, err := e.Failover(ctx, p, opts.Timeout)
	if shown && opts.IO.StderrTTY {
		opts.IO.Printf("\n") // end the progress line
	}
	if err != nil {
		return err
	}
	opts.IO.Printf("%s switched: %s answers with %s (change %s %s)\n", opts.IO.Theme().OK.Render("✓"), p.Where, p.Want, res.ChangeID, res.Status)
	return output(opts, res)
}

func output(opts *FailoverOptions, res dns.Result) error {
	if opts.Factory.Flags.JSON() {
		return opts.IO.JSON(res)
	}
	return nil
}

// dryRun prints the plan and the exact change batch, and stops.
func dryRun(opts *FailoverOptions, p dns.Plan) error {
	io := opts.IO
	if opts.Factory.Flags.JSON() {
		io.Printf("dry run: nothing was changed\n")
		return io.JSON(dns.Result{Plan: p, DryRun: true})
	}
	io.Printf("dry run: would point %s at the %s zone; nothing was changed\n", p.Where.Name, opts.To)
	for _, l := range p.Lines() {
		fmt.Fprintf(io.Out, "  %s\n", l)
	}
	batch, err := json.MarshalIndent(struct {
		Comment string       `json:"Comment"`
		Changes []dns.Change `json:"Changes"`
	}{"deployctl dns failover", p.Batch}, "", "  ")
	if err != nil {
		return err
	}
	fmt.Fprintf(io.Out, "\nchange batch (aws route53 change-resource-record-sets --hosted-zone-id %s --change-batch file://batch.json):\n%s\n", p.Where.Zone, batch)
	return nil
}

// progress shows the wait on a terminal; elsewhere one line says it
// waits. shown tells whether it printed anything.
func progress(io *ui.IOStreams, shown *bool) func(id, status string, elapsed time.Duration) {
	return func(id, status string, elapsed time.Duration) {
		if !*shown {
			*shown = true
			io.Printf("change %s submitted; waiting until it is INSYNC (Ctrl-C stops waiting, not the change)\n", id)
		}
		if io.StderrTTY {
			io.Printf("\r  %s %s", status, elapsed.Round(time.Second))
		}
	}
}
