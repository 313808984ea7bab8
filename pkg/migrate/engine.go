package migrate

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/deployctl/deployctl/pkg/history"
	"github.com/deployctl/deployctl/pkg/lock"
	"github.com/deployctl/deployctl/pkg/provider"
)

// Engine runs the changing migrate commands on one database: each takes the
// lock, adopts versions applied before deployctl, checks dirty marks and
// checksums, applies through goose, and records what happened.
type Engine struct {
	DB          *DB
	Dir         string
	Migrations  []Migration
	LockTimeout time.Duration
	// OnWait is told who holds the lock when the engine has to wait.
	OnWait func(provider.Holder)
	// Notef writes a note for people (stderr).
	Notef func(format string, a ...any)
	Now   func() time.Time
	// Lock is the environment's lock, taken before the database's own by
	// every changing operation, so that a migration never runs into a
	// database that a restore or a failover is changing. nil: only the
	// database lock (engine tests, rehearsals on a scratch copy).
	Lock *lock.Guard
	// History records every changing operation; nil records nothing.
	History *history.Recorder
}

// changing runs fn as the changing operation command: under the
// environment's lock, then the database's, recording what entry returns
// (skipped when it returns false) whether fn failed or not.
func (e *Engine) changing(ctx context.Context, command string, fn func(st *State) error, entry func(err error) (provider.Entry, bool)) error {
	return e.envLocked(ctx, command, func(ctx context.Context) error {
		err := e.locked(ctx, fn)
		if ent, ok := entry(err); ok {
			ent.Command = command
			e.History.Record(ctx, ent)
		}
		return err
	})
}

// envLocked runs fn under the environment's lock. Another migrate command
// holding it is waited for, up to the lock timeout, as the database lock is:
// two pods that run `migrate up` at start-up apply each migration once and
// both succeed. Any other holder (a restore, a failover, a rollout) is
// refused at once with its *provider.LockedError (exit 3).
func (e *Engine) envLocked(ctx context.Context, command string, fn func(ctx context.Context) error) error {
	now := e.Now
	if now == nil {
		now = time.Now
	}
	deadline := now().Add(e.lockTimeout())
	waited := false
	for {
		ran := false
		err := e.Lock.Do(ctx, command, func(ctx context.Context) error { ran = true; return fn(ctx) })
		var le *provider.LockedError
		if ran || !errors.As(err, &le) || !strings.HasPrefix(le.Holder.Command, "migrate ") || !now().Before(deadline) {
			return err
		}
		if !waited && e.OnWait != nil {
			e.OnWait(le.Holder)
		}
		waited = true
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (e *Engine) lockTimeout() time.Duration {
	if e.LockTimeout <= 0 {
		return DefaultLockTimeout
	}
	return e.LockTimeout
}

// resultEntry is the history entry of up, down and redo: recorded when a
// migration ran or the operation failed.
func resultEntry(res *Result) func(err error) (provider.Entry, bool) {
	return func(err error) (provider.Entry, bool) {
		ent := provider.Entry{Before: res.From, After: res.To, Detail: "database " + res.Database, Result: history.Result(err)}
		if err != nil {
			ent.Detail = firstLine(err.Error())
		}
		return ent, len(res.Applied) > 0 || err != nil
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func (e *Engine) notef(format string, a ...any) {
	if e.Notef != nil {
		e.Notef(format, a...)
	}
}

func (e *Engine) byVersion(v int64) (Migration, bool) {
	for _, m := range e.Migrations {
		if m.Version == v {
			return m, true
		}
	}
	return Migration{}, false
}

// locked runs fn under the migration lock, with the sessions a killed
// migration left running dealt with, deployctl's tables in place and
// versions applied before deployctl adopted.
func (e *Engine) locked(ctx context.Context, fn func(st *State) error) error {
	release, err := e.DB.Lock(ctx, e.lockTimeout(), e.OnWait)
	if err != nil {
		return err
	}
	defer release()
	if err := e.endOrphans(ctx); err != nil {
		return err
	}
	if err := e.DB.ensureSchema(ctx); err != nil {
		return fmt.Errorf("create deployctl's migration tables: %w", err)
	}
	st, err := e.DB.ReadState(ctx)
	if err != nil {
		return err
	}
	if err := e.adopt(ctx, st); err != nil {
		return err
	}
	return fn(st)
}

// adopt records the checksum of every version goose applied before
// deployctl ran here, as the file is now.
func (e *Engine) adopt(ctx context.Context, st *State) error {
	var adopted []string
	for _, v := range sortedVersions(st.Applied) {
		if _, ok := st.Records[v]; ok {
			continue
		}
		m, ok := e.byVersion(v)
		if !ok {
			continue
		}
		r := Record{Version: v, File: m.File, SHA256: m.SHA256, State: "applied", Direction: "up", Adopted: true}
		if err := e.DB.upsertRecord(ctx, r); err != nil {
			return fmt.Errorf("record checksum of %s: %w", m.File, err)
		}
		st.Records[v] = r
		adopted = append(adopted, m.File)
	}
	if len(adopted) > 0 {
		e.notef("adopted %d migration(s) applied before deployctl; recorded their checksums as the files are now: %s\n",
			len(adopted), strings.Join(adopted, ", "))
	}
	return nil
}

// Changed is an applied file whose content differs from when it was applied.
type Changed struct {
	Version  int64  `json:"version"`
	File     string `json:"file"`
	Recorded string `json:"recorded_sha256"`
	Now      string `json:"sha256"`
}

// ChangedFiles lists the applied migrations edited since they were applied.
func ChangedFiles(migs []Migration, st *State) []Changed {
	var out []Changed
	for _, m := range migs {
		r, ok := st.Records[m.Version]
		if !ok || r.State != "applied" || r.SHA256 == m.SHA256 {
			continue
		}
		if _, applied := st.Applied[m.Version]; !applied {
			continue
		}
		out = append(out, Changed{Version: m.Version, File: m.File, Recorded: r.SHA256, Now: m.SHA256})
	}
	return out
}

// ChangedError refuses to migrate while applied files differ from what ran.
type ChangedError struct{ Files []Changed }

func (e *ChangedError) Error() string {
	var names []string
	for _, c := range e.Files {
		names = append(names, c.File)
	}
	return fmt.Sprintf("applied migration(s) edited since they ran: %s; revert the edit and put the change in a new migration, or pass --allow-changed (accept an edit for good with 'deployctl migrate resolve VERSION --applied --reason …')",
		strings.Join(names, ", "))
}

// DirtyError refuses to migrate while a dirty mark stands.
type DirtyError struct{ Records []Record }

func (e *DirtyError) Error() string {
	r := e.Records[0]
	return fmt.Sprintf("migration %d (%s) is dirty: it failed %s outside a transaction and may be half applied (%s); inspect the schema, finish or undo it by hand, then run 'deployctl migrate resolve %d --applied|--rolled-back --reason \"…\"'",
		r.Version, r.File, r.Direction, r.Error, r.Version)
}

func (e *Engine) preconditions(st *State, allowChanged bool) error {
	if d := st.Dirty(); len(d) > 0 {
		return &DirtyError{Records: d}
	}
	if ch := ChangedFiles(e.Migrations, st); len(ch) > 0 {
		if !allowChanged {
			return &ChangedError{Files: ch}
		}
		for _, c := range ch {
			e.notef("warning: %s was edited since it was applied (--allow-changed)\n", c.File)
		}
	}
	return nil
}

func sortedVersions[T any](m map[int64]T) []int64 {
	out := make([]int64, 0, len(m))
	for v := range m {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func sortRecords(rs []Record) {
	sort.Slice(rs, func(i, j int) bool { return rs[i].Version < rs[j].Version })
}

func sortRows(rs []StatusRow) {
	sort.Slice(rs, func(i, j int) bool { return rs[i].Version < rs[j].Version })
}
