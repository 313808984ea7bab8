// Package db is the `deployctl db` command group: the replication picture
// and the promotion of a replica, over pkg/postgres/failover.
package db

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
)

// Flags are the flags every db command shares.
type Flags struct {
	DatabaseURL string
}

// NewCmdDB returns the db command group.
func NewCmdDB(f *app.Factory) *cobra.Command {
	fl := &Flags{}
	cmd := &cobra.Command{
		Use:     "db <command>",
		Short:   "PostgreSQL replication status, replica promotion (failover) and index care",
		GroupID: "operate",
		Long: `The environment's PostgreSQL primary and its streaming replicas.

The primary is --database-url, else database.url, else the variable named by
database.url_from (DATABASE_URL). Replicas are --replica-url flags, else
database.replicas: each entry a URL or the name of a variable holding one.
Passwords in URLs are never shown.

db indexes lists the indexes that need care and db reindex rebuilds the
bloated ones (REINDEX INDEX CONCURRENTLY, under the environment's lock).`,
		Example: `  deployctl db status -e production
  deployctl db status --replica-url postgres://app@db-2/api -o json
  deployctl db promote postgres://app@db-2/api -e production --reason "db-1 lost"
  deployctl db indexes -e production
  deployctl db reindex -e production --min-bloat 30% --apply`,
	}
	cmd.PersistentFlags().StringVar(&fl.DatabaseURL, "database-url", "", "the primary (overrides the environment's DATABASE_URL)")
	cmd.AddCommand(NewCmdStatus(f, fl, nil), NewCmdPromote(f, fl, nil), NewCmdIndexes(f, fl, nil), NewCmdReindex(f, fl, nil))
	return cmd
}

// replicaURLs resolves database.replicas: a URL is taken as is, anything
// else names a variable of the environment.
func replicaURLs(ctx context.Context, f *app.Factory) ([]string, error) {
	cfg, err := f.Config()
	if err != nil || len(cfg.Database.Replicas) == 0 {
		return nil, err
	}
	var out []string
	for _, r := range cfg.Database.Replicas {
		if strings.Contains(r, "://") || strings.Contains(r, "=") {
			out = append(out, r)
			continue
		}
		vars, err := f.Variables(ctx)
		if err != nil {
			return nil, err
		}
		v, ok := vars[r]
		if !ok || v.Value == "" {
			return nil, app.Usagef("database.replicas names variable %s, which the environment's variables lack: set it or list the URL", r)
		}
		out = append(out, v.Value)
	}
	return out, nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func seconds(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.1fs", *v)
}
