package dns

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/dns"
)

// StatusOptions are the options of dns status.
type StatusOptions struct {
	IO      *ui.IOStreams
	Factory *app.Factory
}

// NewCmdStatus returns dns status.
func NewCmdStatus(f *app.Factory, runF func(*StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{IO: f.IO, Factory: f}
	return &cobra.Command{
		Use:   "status",
		Short: "Show the failover record set, each target's health check, and which zone serves",
		Long: `Read the failover record set from the DNS provider: the PRIMARY and SECONDARY
records (each an alias to a load balancer, or values with a TTL), their health
checks as the provider's checkers report them, and which zone answers go to:
the PRIMARY while its health check passes, the SECONDARY when it fails, or the
standby zone when 'dns failover --to secondary' switched the PRIMARY record.

JSON: {"where":{"provider","zone","name","type"},"name","type","serving",
"switched","original","switched_at","switched_by","reason",
"primary":{"role","set_identifier","target":{"alias":{"dns_name",
"hosted_zone_id","evaluate_target_health"}|null,"values","ttl"},
"health_check_id","health":{"status","healthy_checkers","checkers","detail"}|null},
"secondary":{…}}`,
		Example: "  deployctl dns status -e production\n  deployctl dns status -e production -o json | jq .serving",
		Args:    app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return statusRun(cmd.Context(), opts)
		},
	}
}

func statusRun(ctx context.Context, opts *StatusOptions) error {
	e, err := engine(ctx, opts.Factory, false)
	if err != nil {
		return err
	}
	st, err := e.Status(ctx)
	if err != nil {
		return err
	}
	if opts.Factory.Flags.JSON() {
		return opts.IO.JSON(st)
	}
	renderStatus(opts.IO, st)
	return nil
}

func renderStatus(io *ui.IOStreams, st dns.Status) {
	th := io.Theme()
	w := io.Out
	fmt.Fprintf(w, "record    %s (%s)\n", st.Where, st.Where.Provider)
	serving := th.OK.Render(st.Serving)
	if st.Serving != "primary" {
		serving = th.Warn.Render(st.Serving)
	}
	fmt.Fprintf(w, "serving   %s: %s\n", serving, st.Reason)
	if st.Switched {
		orig := "unknown (not switched by deployctl)"
		if st.Original != nil {
			orig = st.Original.String()
		}
		fmt.Fprintf(w, "original  %s (switched %s by %s)\n", orig, fmtTime(st.SwitchedAt), orDash(st.SwitchedBy))
	}
	fmt.Fprintln(w)
	t := io.NewTable("role", "set identifier", "target", "health check", "health")
	for _, r := range []dns.RecordStatus{st.Primary, st.Secondary} {
		t.Row(r.Role, r.SetIdentifier, r.Target.String(), orDash(r.HealthCheckID), health(io, r.Health))
	}
	_ = t.Render(w)
}

func health(io *ui.IOStreams, h *dns.Health) string {
	if h == nil {
		return "no health check"
	}
	s := fmt.Sprintf("%s (%d/%d checkers)", h.Status, h.Healthy, h.Checkers)
	if h.Status != "healthy" {
		return io.Theme().Fail.Render(s) + ": " + h.Detail
	}
	return io.Theme().OK.Render(s)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
