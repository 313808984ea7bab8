package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Orphan is a session of a changing migrate command whose deployctl is gone
// (killed, its machine lost) while PostgreSQL still runs its statement: a
// killed client is only noticed when the statement ends, and until then
// the statement keeps its locks. It is told apart from a live migration by
// not holding the migration lock (a live changing command holds it from
// start to end).
type Orphan struct {
	PID        int        `json:"pid"` // the backend
	StartedBy  string     `json:"started_by"`
	State      string     `json:"state"`
	QueryStart *time.Time `json:"query_start"`
	Query      string     `json:"query"` // its first 80 characters
}

// changingCommands are the migrate commands that hold the lock while they
// run statements.
var changingCommands = map[string]bool{"migrate up": true, "migrate down": true, "migrate redo": true, "migrate resolve": true}

func (o Orphan) String() string {
	since := "unknown"
	if o.QueryStart != nil {
		since = o.QueryStart.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("backend pid %d still runs %q (since %s) for %s, which stopped before it finished", o.PID, o.Query, since, o.StartedBy)
}

// Orphans lists the orphaned migration sessions on this database.
func (d *DB) Orphans(ctx context.Context) ([]Orphan, error) {
	rows, err := d.SQL.QueryContext(ctx, internalTag+`SELECT a.pid, a.application_name, coalesce(a.state, ''), a.backend_start, a.query_start,
			left(coalesce(a.query, ''), 400), coalesce(host(a.client_addr), 'local')
		FROM pg_stat_activity a
		WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
		  AND a.application_name LIKE 'deployctl pid % migrate %' AND a.application_name <> $1
		  AND coalesce(a.state, 'idle') <> 'idle'
		  AND a.query NOT LIKE '-- deployctl:internal%' AND a.query NOT LIKE '-- ping%'
		  AND a.application_name NOT IN (
			SELECT coalesce(h.application_name, '') FROM pg_locks l JOIN pg_stat_activity h ON h.pid = l.pid
			WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = $2 AND l.objsubid = 1
			  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))
		ORDER BY a.pid`, d.appName(), LockKey)
	if err != nil {
		return nil, fmt.Errorf("look for orphaned migration sessions: %w", err)
	}
	defer rows.Close()
	var out []Orphan
	for rows.Next() {
		var (
			o           Orphan
			app, client string
			since       time.Time
			start       sql.NullTime
		)
		if err := rows.Scan(&o.PID, &app, &o.State, &since, &start, &o.Query, &client); err != nil {
			return nil, err
		}
		h := parseHolder(app, o.PID, since, client)
		if !changingCommands[h.Command] {
			continue
		}
		o.StartedBy = fmt.Sprintf("'deployctl %s' (pid %d on %s, by %s)", h.Command, h.PID, h.Host, h.Actor)
		if start.Valid {
			o.QueryStart = &start.Time
		}
		o.Query = oneLine(o.Query, 80)
		out = append(out, o)
	}
	return out, rows.Err()
}

// terminate ends a backend and waits (at most 10s) until it is gone, so its
// transaction is rolled back and its locks released.
func (d *DB) terminate(ctx context.Context, pid int) error {
	var ok bool
	if err := d.SQL.QueryRowContext(ctx, internalTag+"SELECT pg_terminate_backend($1)", pid).Scan(&ok); err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		if err := d.SQL.QueryRowContext(ctx, internalTag+"SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("backend pid %d is still there 10s after pg_terminate_backend", pid)
}

// endOrphans deals with the orphaned sessions a changing command finds once
// it holds the lock. With no dirty mark standing, an orphan runs a
// statement of a transactional migration, whose transaction can never
// commit (its client is gone) and whose locks block this run: it is ended.
// With a dirty mark, it may be a NO TRANSACTION statement that can still
// finish (CREATE INDEX CONCURRENTLY): it is only reported, with how to end
// it, and the dirty mark stops the run.
func (e *Engine) endOrphans(ctx context.Context) error {
	orphans, err := e.DB.Orphans(ctx)
	if err != nil || len(orphans) == 0 {
		return err
	}
	st, err := e.DB.ReadState(ctx)
	if err != nil {
		return err
	}
	for _, o := range orphans {
		if len(st.Dirty()) > 0 {
			e.notef("warning: %s; it runs outside a transaction and may still finish: wait for it, or end it with SELECT pg_terminate_backend(%d); then inspect the schema and 'deployctl migrate resolve'\n", o, o.PID)
			continue
		}
		if err := e.DB.terminate(ctx, o.PID); err != nil {
			e.notef("warning: %s, and ending it failed (%v): end it with SELECT pg_terminate_backend(%d) as a role allowed to\n", o, err, o.PID)
			continue
		}
		e.notef("ended backend pid %d: it still ran %q for %s, which stopped before it finished; its transaction was rolled back\n", o.PID, o.Query, o.StartedBy)
	}
	return nil
}
