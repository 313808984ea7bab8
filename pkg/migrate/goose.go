package migrate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pressly/goose/v3"
)

// stmtTracker is a slog handler fed by goose's verbose log: it remembers
// the statement being executed, so a failure can name it.
type stmtTracker struct {
	mu      sync.Mutex
	version int64
	sql     string
	index   int // of the statement within its migration and direction
}

func (t *stmtTracker) Enabled(context.Context, slog.Level) bool { return true }
func (t *stmtTracker) WithAttrs([]slog.Attr) slog.Handler       { return t }
func (t *stmtTracker) WithGroup(string) slog.Handler            { return t }

func (t *stmtTracker) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "executing statement" {
		return nil
	}
	var sql string
	var version int64
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "statement":
			sql = a.Value.String()
		case "version":
			version = a.Value.Int64()
		}
		return true
	})
	t.mu.Lock()
	defer t.mu.Unlock()
	if version == t.version && t.sql != "" {
		t.index++
	} else {
		t.index = 0
	}
	t.version, t.sql = version, sql
	return nil
}

func (t *stmtTracker) reset() {
	t.mu.Lock()
	t.version, t.sql, t.index = 0, "", 0
	t.mu.Unlock()
}

func (t *stmtTracker) last(version int64) (string, int, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sql, t.index, t.version == version && t.sql != ""
}

// provider builds goose's Provider on the engine's folder.
func (e *Engine) provider() (*goose.Provider, *stmtTracker, error) {
	tr := &stmtTracker{}
	p, err := goose.NewProvider(goose.DialectPostgres, e.DB.SQL, os.DirFS(e.Dir),
		goose.WithDisableGlobalRegistry(true), goose.WithVerbose(true), goose.WithSlog(slog.New(tr)))
	if err != nil {
		return nil, nil, fmt.Errorf("goose: %w", err)
	}
	return p, tr, nil
}

// MigrationError is a migration that failed: which file, which statement,
// and what PostgreSQL said.
type MigrationError struct {
	Version     int64
	File        string
	Direction   string
	Transaction bool   // it ran in a transaction, which was rolled back
	Statement   string // as sent
	Line        int    // of the failing statement in the file; 0 when unknown
	Err         error
	// LockTimeout is set when the statement ran out of lock_timeout
	// (SQLSTATE 55P03), with the sessions it waited for, when seen.
	LockTimeout time.Duration
	Blockers    []Blocker
}

func (e *MigrationError) Unwrap() error { return e.Err }

func (e *MigrationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "migration %s (%s) failed", e.File, e.Direction)
	if e.Transaction {
		b.WriteString("; its transaction was rolled back, the schema is as before it")
	} else {
		fmt.Fprintf(&b, " outside a transaction; it is marked dirty: inspect the schema, then 'deployctl migrate resolve %d --applied|--rolled-back --reason \"…\"'", e.Version)
	}
	if e.Statement != "" {
		loc := e.File
		if e.Line > 0 {
			loc = fmt.Sprintf("%s:%d", e.File, e.Line)
		}
		fmt.Fprintf(&b, "\n  statement (%s):\n    %s", loc, strings.ReplaceAll(e.Statement, "\n", "\n    "))
	}
	fmt.Fprintf(&b, "\n  %s", pgMessage(e.Err, e.Statement, e.Line))
	if e.LockTimeout > 0 {
		b.WriteString(e.lockTimeoutHelp())
	}
	return b.String()
}

// pgMessage renders PostgreSQL's error with its position as a file line.
func pgMessage(err error, stmt string, line int) string {
	var pg *pgconn.PgError
	if !errors.As(err, &pg) {
		return err.Error()
	}
	msg := fmt.Sprintf("ERROR: %s (SQLSTATE %s)", pg.Message, pg.Code)
	if pg.Detail != "" {
		msg += "\n  DETAIL: " + pg.Detail
	}
	if pg.Position > 0 && int(pg.Position) <= len(stmt)+1 {
		at := line + strings.Count(stmt[:min(int(pg.Position)-1, len(stmt))], "\n")
		msg += fmt.Sprintf("\n  at position %d of the statement", pg.Position)
		if line > 0 {
			msg += fmt.Sprintf(" (line %d)", at)
		}
	}
	return msg
}

// failure turns goose's error into a *MigrationError when a migration
// failed; blockers are the sessions its statement was seen waiting for.
func (e *Engine) failure(err error, tr *stmtTracker, direction string, blockers []Blocker) error {
	var pe *goose.PartialError
	if !errors.As(err, &pe) || pe.Failed == nil {
		return err
	}
	v := pe.Failed.Source.Version
	m, _ := e.byVersion(v)
	me := &MigrationError{Version: v, File: m.File, Direction: direction, Transaction: m.UseTx, Err: pe.Err}
	var pg *pgconn.PgError
	if errors.As(pe.Err, &pg) && pg.Code == "55P03" {
		me.LockTimeout, me.Blockers = e.DB.lockTimeout(), blockers
	}
	if sql, idx, ok := tr.last(v); ok {
		me.Statement = sql
		stmts := m.Up
		if direction == "down" {
			stmts = m.Down
		}
		if idx < len(stmts) {
			me.Line = stmts[idx].Line
		}
	}
	return me
}

// Applied is one migration run in one direction.
type Applied struct {
	Version    int64  `json:"version"`
	File       string `json:"file"`
	Direction  string `json:"direction"`
	DurationMS int64  `json:"duration_ms"`
}

func (e *Engine) results(rs []*goose.MigrationResult) []Applied {
	out := make([]Applied, 0, len(rs))
	for _, r := range rs {
		m, _ := e.byVersion(r.Source.Version)
		out = append(out, Applied{Version: r.Source.Version, File: m.File, Direction: r.Direction, DurationMS: r.Duration.Milliseconds()})
	}
	return out
}

func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
}
