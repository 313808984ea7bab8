package dbindex

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// worker is the two sessions of a reindex: conn runs the rebuilds, mon
// reads their progress and drops leftovers (conn is unusable after a
// cancelled statement until the cancel has landed).
type worker struct {
	conn, mon *pgx.Conn
	pid       int32
}

func (e *Engine) open(ctx context.Context, url string) (*worker, error) {
	w := &worker{}
	var err error
	if w.conn, err = connect(ctx, url); err != nil {
		return nil, err
	}
	if w.mon, err = connect(ctx, url); err != nil {
		w.conn.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	err = w.conn.QueryRow(ctx, `SELECT pg_backend_pid(), set_config('lock_timeout', $1, false), set_config('statement_timeout', '0', false),
		set_config('application_name', 'deployctl db reindex', false)`, ms(e.LockTimeout)).Scan(&w.pid, nil, nil, nil)
	if err != nil {
		w.close()
		return nil, fmt.Errorf("prepare the session: %w", err)
	}
	return w, nil
}

func (w *worker) close() {
	w.conn.Close(context.Background())
	w.mon.Close(context.Background())
}

func ms(d time.Duration) string { return fmt.Sprintf("%dms", d.Milliseconds()) }

// execCancelable runs sql; a cancelled ctx cancels the statement on the
// server (a dropped connection would leave the server building on).
func (w *worker) execCancelable(ctx context.Context, sql string) error {
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			_ = w.conn.PgConn().CancelRequest(context.Background())
		case <-done:
		}
	}()
	_, err := w.conn.Exec(context.WithoutCancel(ctx), sql)
	close(done)
	return err
}

const leftoversSQL = `
SELECT i.indexrelid, quote_ident(n.nspname) || '.' || quote_ident(c.relname)
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE i.indrelid = $1 AND NOT i.indisvalid AND c.relname ~ '_cc(new|old)[0-9]*$'`

// leftovers returns the invalid …_ccnew/…_ccold indexes on ix's table that
// are not in before, by name.
func (w *worker) leftovers(ctx context.Context, ix *Index, before map[uint32]bool) ([]string, error) {
	rows, err := w.mon.Query(ctx, leftoversSQL, ix.tableOID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var oid uint32
		var name string
		if err := rows.Scan(&oid, &name); err != nil {
			return nil, err
		}
		if !before[oid] {
			names = append(names, name)
		}
	}
	return names, rows.Err()
}

// before is the set of leftovers already on ix's table.
func (w *worker) before(ctx context.Context, ix *Index) (map[uint32]bool, error) {
	rows, err := w.mon.Query(ctx, leftoversSQL, ix.tableOID)
	if err != nil {
		return nil, err
	}
	oids, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (uint32, error) {
		var oid uint32
		var name string
		return oid, r.Scan(&oid, &name)
	})
	set := map[uint32]bool{}
	for _, o := range oids {
		set[o] = true
	}
	return set, err
}

func (w *worker) size(ctx context.Context, ix *Index) (int64, error) {
	var n int64
	err := w.mon.QueryRow(ctx, "SELECT pg_relation_size(to_regclass($1))", ix.Qualified()).Scan(&n)
	return n, err
}

// drop drops a leftover, waiting for locks up to timeout, even when ctx is
// cancelled: that is when leftovers are made.
func (w *worker) drop(ctx context.Context, qualified string, timeout time.Duration) error {
	ctx = context.WithoutCancel(ctx)
	if _, err := w.mon.Exec(ctx, "SELECT set_config('lock_timeout', $1, false)", ms(timeout)); err != nil {
		return err
	}
	_, err := w.mon.Exec(ctx, "DROP INDEX CONCURRENTLY IF EXISTS "+qualified)
	return err
}

const progressSQL = `
SELECT p.phase, p.blocks_done, p.blocks_total, p.tuples_done, p.tuples_total
FROM pg_stat_progress_create_index p WHERE p.pid = $1`

const blockersSQL = `
SELECT a.pid, coalesce(a.usename, ''), coalesce(a.application_name, ''), coalesce(host(a.client_addr), ''),
       coalesce(a.state, ''), a.xact_start
FROM pg_stat_activity a
WHERE a.pid <> $1 AND (a.pid = ANY (pg_blocking_pids($1))
   OR a.pid = (SELECT current_locker_pid FROM pg_stat_progress_create_index WHERE pid = $1))
ORDER BY a.pid`

// watch reads the rebuild's progress and who it waits for until the
// returned stop is called; stop returns the last sessions it waited for.
func (e *Engine) watch(w *worker, label string) (stop func() []Session) {
	poll := e.Poll
	if poll <= 0 {
		poll = 500 * time.Millisecond
	}
	quit, done := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var last []Session
	go func() {
		defer close(done)
		t := time.NewTicker(poll)
		defer t.Stop()
		for {
			ev, ok := w.sample(label)
			if ok {
				if len(ev.Blockers) > 0 {
					mu.Lock()
					last = ev.Blockers
					mu.Unlock()
				}
				e.emit(ev)
			}
			select {
			case <-quit:
				return
			case <-t.C:
			}
		}
	}()
	return func() []Session {
		close(quit)
		<-done
		mu.Lock()
		defer mu.Unlock()
		if last == nil {
			return []Session{}
		}
		return last
	}
}

// sample is one reading of the rebuild's progress; false when it has none.
func (w *worker) sample(label string) (Event, bool) {
	ctx := context.Background()
	ev := Event{Kind: "progress", Index: label}
	err := w.mon.QueryRow(ctx, progressSQL, w.pid).Scan(&ev.Phase, &ev.BlocksDone, &ev.BlocksTotal, &ev.TuplesDone, &ev.TuplesTotal)
	if err != nil {
		return ev, false
	}
	rows, err := w.mon.Query(ctx, blockersSQL, w.pid)
	if err != nil {
		return ev, true
	}
	ev.Blockers, _ = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Session, error) {
		var s Session
		return s, r.Scan(&s.PID, &s.User, &s.Application, &s.Client, &s.State, &s.XactStart)
	})
	return ev, true
}
