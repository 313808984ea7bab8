package migrate

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/pressly/goose/v3"
)

// Result is what a changing command did.
type Result struct {
	Database string    `json:"database"` // redacted
	From     int64     `json:"from_version"`
	To       int64     `json:"to_version"`
	Applied  []Applied `json:"migrations"`
}

// UpOptions are the options of Up.
type UpOptions struct {
	To           int64 // 0: all
	AllowChanged bool
}

// PendingUpTo lists the migrations not applied, up to version to (0: all).
// Files older than the current version that were never applied are an
// error: goose refuses to apply out of order, and so do we, clearly.
func PendingUpTo(migs []Migration, st *State, to int64) ([]Migration, error) {
	cur := st.Current()
	var out, old []Migration
	for _, m := range migs {
		if _, ok := st.Applied[m.Version]; ok || (to > 0 && m.Version > to) {
			continue
		}
		if m.Version < cur {
			old = append(old, m)
		}
		out = append(out, m)
	}
	if len(old) > 0 {
		return nil, fmt.Errorf("%s is older than the database's version %d but was never applied (a branch merged late?); renumber it after %d", old[0].File, cur, cur)
	}
	return out, nil
}

// Up applies the pending migrations up to o.To under the lock.
func (e *Engine) Up(ctx context.Context, o UpOptions) (*Result, error) {
	res := &Result{Database: e.DB.Name()}
	err := e.changing(ctx, "migrate up", func(st *State) error {
		res.From, res.To = st.Current(), st.Current()
		if err := e.preconditions(st, o.AllowChanged); err != nil {
			return err
		}
		pending, err := PendingUpTo(e.Migrations, st, o.To)
		if err != nil || len(pending) == 0 {
			return err
		}
		findings := lintByFile(e.Migrations)
		for _, m := range pending {
			for _, f := range findings[m.File] {
				e.notef("lint: %s:%d: %s [%s] %s\n", f.File, f.Line, f.Severity, f.ID, f.Message)
			}
		}
		applied, err := e.apply(ctx, pending)
		res.Applied = applied
		if n := len(applied); n > 0 {
			res.To = applied[n-1].Version
		}
		return err
	}, resultEntry(res))
	return res, err
}

// apply runs pending in order: runs of transactional migrations in one goose
// call, each NO TRANSACTION migration on its own behind a dirty mark written
// first, so a crash in the middle of it still leaves the mark.
func (e *Engine) apply(ctx context.Context, pending []Migration) ([]Applied, error) {
	p, tr, err := e.provider()
	if err != nil {
		return nil, err
	}
	var done []Applied
	for i := 0; i < len(pending); {
		j := i + 1
		if pending[i].UseTx {
			for j < len(pending) && pending[j].UseTx {
				j++
			}
		}
		got, err := e.applyRun(ctx, p, tr, pending[i:j])
		done = append(done, got...)
		if err != nil {
			return done, err
		}
		i = j
	}
	return done, nil
}

func (e *Engine) applyRun(ctx context.Context, p *goose.Provider, tr *stmtTracker, run []Migration) ([]Applied, error) {
	last := run[len(run)-1]
	if !last.UseTx {
		if err := e.markDirty(ctx, last, "up", "interrupted: deployctl stopped while applying it"); err != nil {
			return nil, err
		}
	}
	tr.reset()
	stop := e.watchLocks(ctx)
	rs, err := p.UpTo(ctx, last.Version)
	blockers := stop()
	var pe *goose.PartialError
	if errors.As(err, &pe) {
		rs = pe.Applied
	}
	applied := e.results(rs)
	bctx, cancel := detached(ctx)
	defer cancel()
	if rerr := e.recordApplied(bctx, applied); rerr != nil {
		return applied, rerr
	}
	if err != nil {
		ferr := e.failure(err, tr, "up", blockers)
		if !last.UseTx {
			_ = e.markDirty(bctx, last, "up", dirtyReason(ferr))
		}
		return applied, ferr
	}
	return applied, nil
}

func (e *Engine) markDirty(ctx context.Context, m Migration, direction, why string) error {
	r := Record{Version: m.Version, File: m.File, SHA256: m.SHA256, State: "dirty", Direction: direction, Error: why}
	if err := e.DB.upsertRecord(ctx, r); err != nil {
		return fmt.Errorf("record the dirty mark of %s: %w", m.File, err)
	}
	return nil
}

// recordApplied writes the checksums of applied migrations in one statement.
func (e *Engine) recordApplied(ctx context.Context, applied []Applied) error {
	if len(applied) == 0 {
		return nil
	}
	var vs []int64
	var files, sums []string
	for _, a := range applied {
		m, _ := e.byVersion(a.Version)
		vs, files, sums = append(vs, a.Version), append(files, m.File), append(sums, m.SHA256)
	}
	_, err := e.DB.SQL.ExecContext(ctx, `INSERT INTO deployctl_migrations (version, file, sha256, state, direction, error)
		SELECT v, f, s, 'applied', 'up', '' FROM unnest($1::bigint[], $2::text[], $3::text[]) AS t(v, f, s)
		ON CONFLICT (version) DO UPDATE SET file = excluded.file, sha256 = excluded.sha256, state = 'applied',
			direction = 'up', adopted = false, error = '', recorded_at = now()`, vs, files, sums)
	if err != nil {
		return fmt.Errorf("record the checksums of applied migrations: %w", err)
	}
	return nil
}

// dirtyReason is the one-line story of a failure, for the dirty mark.
func dirtyReason(err error) string {
	var me *MigrationError
	if !errors.As(err, &me) {
		return err.Error()
	}
	msg := strings.Join(strings.Fields(pgMessage(me.Err, me.Statement, me.Line)), " ")
	if me.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", me.File, me.Line, msg)
	}
	return msg
}
