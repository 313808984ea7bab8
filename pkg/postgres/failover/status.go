// Package failover reads a PostgreSQL primary and its streaming replicas
// (who is what, how far behind) and promotes a replica when the primary is
// lost: the first step of disaster recovery. It connects through
// postgres.Connect, so URLs in errors are redacted.
package failover

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/deployctl/deployctl/pkg/postgres"
	"github.com/deployctl/deployctl/pkg/provider"
)

// Node is one server as it describes itself.
type Node struct {
	Server     string   `json:"server"` // redacted URL
	Reachable  bool     `json:"reachable"`
	Role       string   `json:"role,omitempty"` // primary | replica
	Version    string   `json:"version,omitempty"`
	LSN        string   `json:"lsn,omitempty"`         // primary: current WAL position; replica: replayed
	ReceiveLSN string   `json:"receive_lsn,omitempty"` // replica: received
	Receiver   string   `json:"receiver,omitempty"`    // replica: WAL receiver status (streaming, …) or "stopped"
	Paused     bool     `json:"replay_paused,omitempty"`
	LagBytes   *int64   `json:"lag_bytes,omitempty"`   // replica: behind the primary's current position
	LagSeconds *float64 `json:"lag_seconds,omitempty"` // replica: age of the last replayed transaction, 0 when caught up
	Error      string   `json:"error,omitempty"`
	err        error
}

// Err is the error that made the node unreachable or unreadable.
func (n Node) Err() error { return n.err }

// Standby is one row of pg_stat_replication on the primary.
type Standby struct {
	Name       string   `json:"application_name"`
	Client     string   `json:"client"`
	State      string   `json:"state"`
	Sync       string   `json:"sync_state"`
	ReplayLSN  string   `json:"replay_lsn,omitempty"`
	LagBytes   *int64   `json:"lag_bytes,omitempty"`
	LagSeconds *float64 `json:"replay_lag_seconds,omitempty"`
}

// Status is the replication picture.
type Status struct {
	Primary  Node      `json:"primary"`
	Standbys []Standby `json:"standbys"` // as the primary sees them
	Replicas []Node    `json:"replicas"` // as each listed replica sees itself
}

// Read connects to the primary and each replica URL and reports what they
// say. An unreachable server is a Node with Reachable false, not an error.
func Read(ctx context.Context, primaryURL string, replicaURLs []string) Status {
	st := Status{Standbys: []Standby{}, Replicas: []Node{}}
	var primaryLSN uint64
	if primaryURL != "" {
		st.Primary = inspect(ctx, primaryURL)
		if st.Primary.Role == "primary" {
			primaryLSN, _ = ParseLSN(st.Primary.LSN)
			st.Standbys, st.Primary.err = standbys(ctx, primaryURL)
			if st.Primary.err != nil {
				st.Primary.Error = st.Primary.err.Error()
			}
		}
	}
	for _, u := range replicaURLs {
		n := inspect(ctx, u)
		if rl, err := ParseLSN(n.LSN); err == nil && n.Role == "replica" && primaryLSN > 0 {
			lag := int64(primaryLSN) - int64(rl)
			n.LagBytes = &lag
		}
		st.Replicas = append(st.Replicas, n)
	}
	return st
}

// inspect reads one server's role and position.
func inspect(ctx context.Context, url string) Node {
	n := Node{Server: postgres.Redact(url)}
	conn, err := postgres.Connect(ctx, url)
	if err != nil {
		n.err, n.Error = err, err.Error()
		return n
	}
	defer conn.Close(context.WithoutCancel(ctx))
	n.Reachable = true
	if err := readNode(ctx, conn, &n); err != nil {
		n.err = fmt.Errorf("server %s: %w", n.Server, err)
		n.Error = n.err.Error()
	}
	return n
}

func readNode(ctx context.Context, conn *pgx.Conn, n *Node) error {
	var recovery bool
	if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery(), current_setting('server_version')").Scan(&recovery, &n.Version); err != nil {
		return err
	}
	if !recovery {
		n.Role = "primary"
		return conn.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&n.LSN)
	}
	n.Role = "replica"
	var recv, replay *string
	var lag *float64
	err := conn.QueryRow(ctx, `SELECT pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text, pg_is_wal_replay_paused(),
		CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
		     ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END,
		coalesce((SELECT status FROM pg_stat_wal_receiver), 'stopped')`).Scan(&recv, &replay, &n.Paused, &lag, &n.Receiver)
	n.ReceiveLSN, n.LSN, n.LagSeconds = deref(recv), deref(replay), lag
	return err
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func standbys(ctx context.Context, url string) ([]Standby, error) {
	conn, err := postgres.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, `SELECT application_name, coalesce(client_addr::text, 'local'), coalesce(state, ''), coalesce(sync_state, ''),
		replay_lsn::text, pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint, extract(epoch FROM replay_lag)::float8
		FROM pg_stat_replication ORDER BY application_name, client_addr`)
	if err != nil {
		return nil, fmt.Errorf("read pg_stat_replication: %w", err)
	}
	out := []Standby{}
	for rows.Next() {
		var s Standby
		var lsn *string
		if err := rows.Scan(&s.Name, &s.Client, &s.State, &s.Sync, &lsn, &s.LagBytes, &s.LagSeconds); err != nil {
			return nil, err
		}
		s.ReplayLSN = deref(lsn)
		out = append(out, s)
	}
	return out, rows.Err()
}

// ParseLSN reads a WAL position such as "0/3000148".
func ParseLSN(s string) (uint64, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok {
		return 0, fmt.Errorf("not an LSN: %q", s)
	}
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("not an LSN: %q", s)
	}
	return h<<32 | l, nil
}

// Unreachable reports whether n's error is an unreachable server.
func (n Node) Unreachable() bool {
	var ue *provider.UnreachableError
	return !n.Reachable && errors.As(n.err, &ue)
}
