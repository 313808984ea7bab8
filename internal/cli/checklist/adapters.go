package checklist

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/cli/wal"
	"github.com/deployctl/deployctl/internal/config"
	"github.com/deployctl/deployctl/pkg/backup"
	"github.com/deployctl/deployctl/pkg/checklist"
	"github.com/deployctl/deployctl/pkg/migrate"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/rollout"
)

// migrationsEvidence reads the pending migrations once for the migrations
// and rollback checks, which run at the same time.
type migrationsEvidence struct {
	f    *app.Factory
	cfg  *config.Loaded
	once sync.Once
	set  checklist.MigrationSet
	err  error
}

func (m *migrationsEvidence) Pending(ctx context.Context) (checklist.MigrationSet, error) {
	m.once.Do(func() { m.set, m.err = m.read(ctx) })
	return m.set, m.err
}

func (m *migrationsEvidence) read(ctx context.Context) (checklist.MigrationSet, error) {
	url, err := m.f.DatabaseURL(ctx, "")
	if err != nil {
		return checklist.MigrationSet{}, err
	}
	plan, err := migrate.Pending(ctx, url, m.cfg.Path(m.cfg.Migrations.Dir))
	if err != nil {
		return checklist.MigrationSet{}, err
	}
	set := checklist.MigrationSet{Hash: plan.SetHash, Current: plan.Current}
	for _, p := range plan.Pending {
		mig := checklist.Migration{Version: p.Version, Name: p.File, HasDown: p.HasDown,
			Irreversible: p.Irreversible, IrreversibleReason: p.IrreversibleReason}
		for _, f := range p.Findings {
			// A missing down section is the rollback check's finding.
			if f.ID != migrate.RuleMissingDown {
				mig.Findings = append(mig.Findings, fmt.Sprintf("line %d: %s [%s] %s", f.Line, f.Severity, f.ID, f.Message))
			}
		}
		set.Pending = append(set.Pending, mig)
	}
	return set, nil
}

func (m *migrationsEvidence) Rehearsal(ctx context.Context, hash string) (*checklist.Rehearsal, error) {
	return loadRehearsal(ctx, m.f, hash)
}

// standbyProbe probes the slot traffic goes back to: the one that is not
// the active slot of the rollout state.
type standbyProbe struct{ f *app.Factory }

func (s *standbyProbe) Standby(ctx context.Context) (provider.SlotStatus, error) {
	router, err := s.f.Traffic(ctx)
	if err != nil {
		return provider.SlotStatus{}, err
	}
	active, err := activeSlot(ctx, s.f, router)
	if err != nil {
		return provider.SlotStatus{}, err
	}
	st, err := router.Slot(ctx, active.Other())
	if st.Slot == "" {
		st.Slot = active.Other()
	}
	if err != nil && st.Detail == "" {
		st.Ready, st.Detail = false, err.Error()
	}
	return st, nil
}

// activeSlot is the rollout state's active slot (blue before the first
// change); without a state store, the slot with the larger weight.
func activeSlot(ctx context.Context, f *app.Factory, router provider.TrafficRouter) (provider.Slot, error) {
	store, err := f.State(ctx)
	if err == nil {
		data, _, err := store.Load(ctx, rollout.StateKey)
		if errors.Is(err, provider.ErrNotFound) {
			return rollout.Initial().Active, nil
		}
		if err != nil {
			return "", fmt.Errorf("read the rollout state: %w", err)
		}
		var st rollout.State
		if json.Unmarshal(data, &st) == nil && st.Active.Valid() {
			return st.Active, nil
		}
		return "", fmt.Errorf("the rollout state has no valid active slot; see `deployctl rollout status`")
	}
	if !errors.Is(err, provider.ErrUnsupported) {
		return "", err
	}
	w, err := router.Weights(ctx)
	if err != nil {
		return "", fmt.Errorf("read the weights: %w", err)
	}
	if w[provider.Green] > w[provider.Blue] {
		return provider.Green, nil
	}
	return provider.Blue, nil
}

// walEvidence verifies the WAL archive of the environment's storage.
type walEvidence struct{ f *app.Factory }

func (w *walEvidence) Verify(ctx context.Context, maxAge time.Duration) (bool, []string, string, error) {
	archived, rep, err := wal.Verify(ctx, w.f, maxAge)
	if err != nil || !archived {
		return archived, nil, "", err
	}
	ev := "WAL archive in " + w.f.StorageName() + ": no segment"
	if rep.Newest != nil {
		ev = fmt.Sprintf("WAL archive in %s: from %s to %s (timeline %d), newest archived %s", w.f.StorageName(), rep.From, rep.Newest.Name, rep.Timeline, rep.Newest.Time.UTC().Format(time.RFC3339))
	}
	return true, rep.Problems, ev, nil
}

// backupEvidence finds the newest backup in the environment's storage.
type backupEvidence struct{ f *app.Factory }

func (b *backupEvidence) Newest(ctx context.Context) (*checklist.Backup, error) {
	store, err := b.f.BackupStore(ctx)
	if err != nil {
		return nil, err
	}
	list, err := backup.List(ctx, store)
	if errors.Is(err, provider.ErrNotFound) || (err == nil && len(list) == 0) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m := list[0]
	out := &checklist.Backup{ID: m.ID, CreatedAt: m.CreatedAt, SizeBytes: m.SizeBytes}
	if v := m.Verification; v != nil {
		out.Verification = &checklist.Verification{Level: v.Level, OK: v.OK, At: v.At, Detail: v.Detail}
	}
	return out, nil
}
