package failover

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/deployctl/deployctl/pkg/history"
	"github.com/deployctl/deployctl/pkg/lock"
	"github.com/deployctl/deployctl/pkg/provider"
)

// Engine promotes a replica as a changing command: under the environment's
// lock (nothing else may change the database meanwhile) and recorded in
// the history.
type Engine struct {
	Lock    *lock.Guard       // nil: no lock (the provider has none)
	History *history.Recorder // nil: nothing recorded
	// Progress tells the operator that the promotion has started; nil: quiet.
	Progress func(format string, a ...any)
}

// Promote promotes the replica of c at replicaURL, waiting up to wait for
// it to take writes.
func (e *Engine) Promote(ctx context.Context, c Check, replicaURL string, wait time.Duration) error {
	return e.Lock.Do(ctx, "db promote "+c.Replica.Server, func(ctx context.Context) error {
		if e.Progress != nil {
			e.Progress("promoting %s …\n", c.Replica.Server)
		}
		err := Promote(ctx, replicaURL, wait)
		detail := ""
		if err != nil {
			detail = err.Error()
		}
		e.History.Record(ctx, Entry(c, history.Result(err), detail))
		return err
	})
}

// DryRun records that a promotion of c was planned and nothing changed.
func (e *Engine) DryRun(ctx context.Context, c Check) {
	e.History.Record(ctx, Entry(c, "dry-run", ""))
}

// Entry is the history line: servers by host, port and database only, so
// that the change column stays readable (and holds no user or options).
func Entry(c Check, result, detail string) provider.Entry {
	before := map[string]string{}
	if c.Primary.Server != "" {
		before["primary"] = serverName(c.Primary.Server)
	}
	if detail == "" {
		detail = fmt.Sprintf("replica %s at replayed WAL %s", c.Replica.Server, c.Replica.LSN)
	}
	return provider.Entry{Command: "db promote", Before: before, After: map[string]string{"primary": serverName(c.Replica.Server)}, Result: result, Detail: detail}
}

// serverName is host:port/database of a (redacted) URL, or the URL itself.
func serverName(redacted string) string {
	u, err := url.Parse(redacted)
	if err != nil || u.Host == "" {
		return redacted
	}
	return u.Host + u.Path
}
