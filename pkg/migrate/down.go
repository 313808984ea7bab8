package migrate

import (
	"context"
	"errors"
	"fmt"

	"github.com/pressly/goose/v3"
)

// DownOptions are the options of Down.
type DownOptions struct {
	To           int64 // roll back every version above To; -1: only the newest
	AllowChanged bool
}

// Down rolls back applied migrations, newest first, one goose call each.
func (e *Engine) Down(ctx context.Context, o DownOptions) (*Result, error) {
	res := &Result{Database: e.DB.Name()}
	err := e.changing(ctx, "migrate down", func(st *State) error {
		res.From, res.To = st.Current(), st.Current()
		if err := e.preconditions(st, o.AllowChanged); err != nil {
			return err
		}
		todo, err := e.DownList(st, o.To)
		if err != nil || len(todo) == 0 {
			return err
		}
		p, tr, err := e.provider()
		if err != nil {
			return err
		}
		for _, m := range todo {
			a, err := e.downOne(ctx, p, tr, m)
			if err != nil {
				return err
			}
			res.Applied = append(res.Applied, a)
			delete(st.Applied, m.Version)
			res.To = st.Current()
		}
		return nil
	}, resultEntry(res))
	return res, err
}

// DownList is what Down rolls back; it refuses a migration that cannot be
// undone before touching anything.
func (e *Engine) DownList(st *State, to int64) ([]Migration, error) {
	versions := sortedVersions(st.Applied)
	var out []Migration
	for i := len(versions) - 1; i >= 0; i-- {
		v := versions[i]
		if (to < 0 && len(out) == 1) || (to >= 0 && v <= to) {
			break
		}
		m, ok := e.byVersion(v)
		if !ok {
			return nil, fmt.Errorf("version %d is applied but its file is not in %s: restore the file to roll it back", v, e.Dir)
		}
		if err := reversible(m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func reversible(m Migration) error {
	if m.Irreversible {
		return fmt.Errorf("%s is marked irreversible (%s): it cannot be rolled back; if you undid it by hand, record that with 'deployctl migrate resolve %d --rolled-back --reason …'", m.File, m.IrreversibleReason, m.Version)
	}
	if !m.HasDown {
		return fmt.Errorf("%s has no down section: rolling it back would only forget the version; add a '-- +goose Down' section, or mark it '%s <reason>'", m.File, IrreversibleAnnotation)
	}
	return nil
}

func (e *Engine) downOne(ctx context.Context, p *goose.Provider, tr *stmtTracker, m Migration) (Applied, error) {
	if !m.UseTx {
		if err := e.markDirty(ctx, m, "down", "interrupted: deployctl stopped while rolling it back"); err != nil {
			return Applied{}, err
		}
	}
	tr.reset()
	stop := e.watchLocks(ctx)
	r, err := p.ApplyVersion(ctx, m.Version, false)
	blockers := stop()
	bctx, cancel := detached(ctx)
	defer cancel()
	if err != nil {
		var pe *goose.PartialError
		if errors.As(err, &pe) && pe.Failed == nil {
			return Applied{}, err
		}
		ferr := e.failure(err, tr, "down", blockers)
		if !m.UseTx {
			_ = e.markDirty(bctx, m, "down", dirtyReason(ferr))
		}
		return Applied{}, ferr
	}
	if err := e.DB.deleteRecord(bctx, m.Version); err != nil {
		return Applied{}, fmt.Errorf("forget the checksum of %s: %w", m.File, err)
	}
	return e.results([]*goose.MigrationResult{r})[0], nil
}

// Redo rolls back the newest applied migration and applies it again.
func (e *Engine) Redo(ctx context.Context, allowChanged bool) (*Result, error) {
	res := &Result{Database: e.DB.Name()}
	err := e.changing(ctx, "migrate redo", func(st *State) error {
		res.From, res.To = st.Current(), st.Current()
		if err := e.preconditions(st, allowChanged); err != nil {
			return err
		}
		todo, err := e.DownList(st, -1)
		if err != nil {
			return err
		}
		if len(todo) == 0 {
			return errors.New("nothing to redo: no migration is applied")
		}
		p, tr, err := e.provider()
		if err != nil {
			return err
		}
		a, err := e.downOne(ctx, p, tr, todo[0])
		if err != nil {
			return err
		}
		res.Applied = append(res.Applied, a)
		up, err := e.applyRun(ctx, p, tr, todo[:1])
		res.Applied = append(res.Applied, up...)
		return err
	}, resultEntry(res))
	return res, err
}
