package migrate

import (
	"context"
)

// PlannedMigration is one pending migration as plan shows it and as the
// checklist judges it.
type PlannedMigration struct {
	Version            int64     `json:"version"`
	File               string    `json:"file"`
	Transaction        bool      `json:"transaction"`
	HasDown            bool      `json:"has_down"`
	Irreversible       bool      `json:"irreversible"`
	IrreversibleReason string    `json:"irreversible_reason,omitempty"`
	Findings           []Finding `json:"findings"`
}

// Plan is what `up` would do, read without a lock and without changing
// anything.
type Plan struct {
	Database string             `json:"database"` // redacted
	Current  int64              `json:"current_version"`
	SetHash  string             `json:"set_hash"` // SetHash of the pending migrations
	Pending  []PlannedMigration `json:"pending"`
	Changed  []Changed          `json:"changed"` // applied files edited since
	Dirty    []Record           `json:"dirty"`
}

// PlanFor builds the plan of migs against st, up to version to (0: all).
func PlanFor(migs []Migration, st *State, to int64) (*Plan, error) {
	pending, err := PendingUpTo(migs, st, to)
	if err != nil {
		return nil, err
	}
	p := &Plan{Current: st.Current(), SetHash: SetHash(pending), Pending: []PlannedMigration{},
		Changed: ChangedFiles(migs, st), Dirty: st.Dirty()}
	findings := lintByFile(migs)
	for _, m := range pending {
		f := findings[m.File]
		if f == nil {
			f = []Finding{}
		}
		p.Pending = append(p.Pending, PlannedMigration{Version: m.Version, File: m.File, Transaction: m.UseTx,
			HasDown: m.HasDown, Irreversible: m.Irreversible, IrreversibleReason: m.IrreversibleReason, Findings: f})
	}
	if p.Changed == nil {
		p.Changed = []Changed{}
	}
	if p.Dirty == nil {
		p.Dirty = []Record{}
	}
	return p, nil
}

// Pending reads the migrations of dir and the state of the database at
// databaseURL and returns the pending migrations with their lint findings,
// down sections and irreversible marks, and SetHash of them: what the
// checklist needs. It takes no lock and changes nothing.
func Pending(ctx context.Context, databaseURL, dir string) (*Plan, error) {
	migs, err := Load(dir)
	if err != nil {
		return nil, err
	}
	db, err := Open(ctx, databaseURL, "deployctl checklist")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	st, err := db.ReadState(ctx)
	if err != nil {
		return nil, err
	}
	p, err := PlanFor(migs, st, 0)
	if err != nil {
		return nil, err
	}
	p.Database = db.Name()
	return p, nil
}
