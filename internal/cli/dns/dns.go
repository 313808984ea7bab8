// Package dns is the `deployctl dns` command group: thin commands over
// pkg/dns, the zone failover of the environment's host name.
package dns

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/config"
	"github.com/deployctl/deployctl/pkg/dns"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/aws/route53"
)

// providers are the dns.provider values and their constructors, with
// their settings under dns.<name>.
var providers = map[string]func(context.Context, provider.Env, provider.Decode) (dns.Failover, error){
	"route53": route53.Open,
}

// pollInterval is the wait between two reads of a change's status.
var pollInterval = dns.DefaultPoll

// NewCmdDNS returns the dns command group.
func NewCmdDNS(f *app.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "dns <command>",
		Short:   "Zone failover: the DNS failover record set, and switching it to the standby zone",
		GroupID: "operate",
		Long: `The failover record set of the environment's host name (dns.route53.record in
hosted zone dns.route53.hosted_zone_id): a PRIMARY record on the primary
zone's load balancer and a SECONDARY one on the standby zone's, each with a
health check. Route 53 answers with the PRIMARY while its health check passes.

'dns failover --to secondary' points the PRIMARY record at the standby
zone's load balancer (for a zone outage the health checks do not catch, or
ahead of one); '--back' points it at its own load balancer again, exactly as
it was. See docs/dr.md.`,
		Example: `  deployctl dns status -e production
  deployctl dns failover --to secondary -e production --reason "eu-west-1a outage" --dry-run
  deployctl dns failover --to secondary -e production --reason "eu-west-1a outage"
  deployctl dns failover --back -e production`,
	}
	cmd.AddCommand(NewCmdStatus(f, nil), NewCmdFailover(f, nil))
	return cmd
}

// engine builds the dns engine of the environment; changing adds the lock.
func engine(ctx context.Context, f *app.Factory, changing bool) (*dns.Engine, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	name := cfg.DNS.Provider
	open, ok := providers[name]
	if !ok {
		if name == "" {
			return nil, &config.Error{Msg: fmt.Sprintf("%s: dns.provider is not set: zone failover needs a section dns: {provider: route53, route53: {hosted_zone_id: Z…, record: api.example.com}} (docs/dr.md)", cfg.File)}
		}
		return nil, &config.Error{Msg: fmt.Sprintf("%s: dns.provider %q is not one of %s", cfg.File, name, strings.Join(names(), ", "))}
	}
	fo, err := open(ctx, f.Env(cfg), func(t any) error { return cfg.Decode("dns."+name, t) })
	if err != nil {
		return nil, err
	}
	e := &dns.Engine{DNS: fo, History: f.Recorder(), Actor: f.Actor(), Now: f.Now, Notef: f.Notef, Poll: pollInterval}
	if e.State, err = f.State(ctx); err != nil && (changing || !errors.Is(err, provider.ErrUnsupported)) {
		return nil, err
	}
	if changing {
		if e.Lock, err = f.Guard(ctx); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func names() []string {
	out := make([]string, 0, len(providers))
	for n := range providers {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
