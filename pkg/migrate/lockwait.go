package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"time"
)

// internalTag starts every query deployctl runs for its own bookkeeping
// while it may not hold the migration lock (polling the lock, naming its
// holder, watching lock waits): an orphan hunt skips sessions running one.
const internalTag = "-- deployctl:internal\n"

// lockWatchPoll is how often a running migration is checked for lock waits.
var lockWatchPoll = 200 * time.Millisecond

// StatementLockTimeoutKey is the configuration key of the lock_timeout of
// migration statements, named in messages.
const StatementLockTimeoutKey = "migrations.statement_lock_timeout"

// Blocker is a session holding a lock that a migration statement waits for.
type Blocker struct {
	Relation   string     `json:"relation"` // the table, or the kind of lock when it is not a relation's
	Mode       string     `json:"mode"`     // the lock the migration asks for
	PID        int        `json:"pid"`      // the blocking backend
	AppName    string     `json:"application_name"`
	State      string     `json:"state"`
	QueryStart *time.Time `json:"query_start"`
	Query      string     `json:"query"` // its first 80 characters
}

func (b Blocker) String() string {
	what := "a lock on " + b.Relation
	if strings.HasPrefix(b.Relation, "(") {
		what = "a lock " + b.Relation
	}
	since := "unknown"
	if b.QueryStart != nil {
		since = b.QueryStart.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("%s (%s) held by backend pid %d (application_name %q, state %q, query started %s, query %q)",
		what, b.Mode, b.PID, b.AppName, b.State, since, b.Query)
}

// oneLine folds whitespace and keeps the first n characters.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// Blockers lists who blocks the sessions named appName on this database.
func (d *DB) Blockers(ctx context.Context, appName string) ([]Blocker, error) {
	rows, err := d.SQL.QueryContext(ctx, internalTag+`SELECT coalesce(l.relation::regclass::text, '(' || l.locktype || ')'), l.mode,
		b.pid, coalesce(b.application_name, ''), coalesce(b.state, ''), b.query_start, left(coalesce(b.query, ''), 400)
		FROM pg_stat_activity w
		JOIN pg_locks l ON l.pid = w.pid AND NOT l.granted
		JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS bp(pid) ON true
		JOIN pg_stat_activity b ON b.pid = bp.pid
		WHERE w.application_name = $1 AND w.datname = current_database() AND w.pid <> pg_backend_pid()
		ORDER BY b.pid`, appName)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Blocker
	for rows.Next() {
		var b Blocker
		var start sql.NullTime
		if err := rows.Scan(&b.Relation, &b.Mode, &b.PID, &b.AppName, &b.State, &start, &b.Query); err != nil {
			return nil, err
		}
		if start.Valid {
			b.QueryStart = &start.Time
		}
		b.Query = oneLine(b.Query, 80)
		out = append(out, b)
	}
	return out, rows.Err()
}

// lockWatch watches the engine's sessions while goose runs a migration and
// says once per blocker who the migration waits for.
type lockWatch struct {
	mu     sync.Mutex
	last   []Blocker
	cancel context.CancelFunc
	done   chan struct{}
}

// watchLocks starts watching; stop ends it and returns the blockers seen
// last.
func (e *Engine) watchLocks(ctx context.Context) (stop func() []Blocker) {
	ctx, cancel := context.WithCancel(ctx)
	w := &lockWatch{cancel: cancel, done: make(chan struct{})}
	go w.run(ctx, e)
	return func() []Blocker {
		w.cancel()
		<-w.done
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.last
	}
}

func (w *lockWatch) run(ctx context.Context, e *Engine) {
	defer close(w.done)
	told := map[int]bool{}
	app := e.DB.appName()
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(lockWatchPoll):
		}
		bs, err := e.DB.Blockers(ctx, app)
		if err != nil || len(bs) == 0 {
			continue
		}
		w.mu.Lock()
		w.last = bs
		w.mu.Unlock()
		for _, b := range bs {
			if told[b.PID] {
				continue
			}
			told[b.PID] = true
			limit := "waiting without limit (" + StatementLockTimeoutKey + " is 0)"
			if t := e.DB.lockTimeout(); t > 0 {
				limit = fmt.Sprintf("giving up after %s (%s)", t, StatementLockTimeoutKey)
			}
			e.notef("waiting for %s; %s\n", b, limit)
		}
	}
}

// lockTimeoutHelp is what a *MigrationError says when its statement ran
// out of lock_timeout.
func (e *MigrationError) lockTimeoutHelp() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n  the statement waited longer than %s (%s) for a lock", StatementLockTimeoutKey, e.LockTimeout)
	if len(e.Blockers) == 0 {
		fmt.Fprintf(&b, "\n  fix: find the session that holds a lock on the tables of this statement (pg_locks joined with pg_stat_activity), let it finish or end it with SELECT pg_terminate_backend(pid); then run 'deployctl migrate %s' again", e.Direction)
		return b.String()
	}
	var pids []string
	for _, bl := range e.Blockers {
		fmt.Fprintf(&b, "\n  blocked by: %s", bl)
		pids = append(pids, fmt.Sprintf("SELECT pg_terminate_backend(%d);", bl.PID))
	}
	fmt.Fprintf(&b, "\n  fix: let that session finish, or end it with %s then run 'deployctl migrate %s' again (or raise %s, for one run e.g. DEPLOYCTL_MIGRATIONS_STATEMENT_LOCK_TIMEOUT=5m)",
		strings.Join(pids, " "), e.Direction, StatementLockTimeoutKey)
	return b.String()
}
