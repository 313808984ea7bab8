package backup

import (
	"context"
	"fmt"

	"github.com/deployctl/deployctl/pkg/wal"
)

// The rules that decide what prune does to the WAL archive, as
// WALPrune.KeptBy names them.
const (
	// WALKeptByBaseStart: the WAL from the start of the oldest kept base
	// backup on is kept; what ends before it is deleted.
	WALKeptByBaseStart = "base-start"
	// WALKeptByNoBase: there is no base backup, so no WAL is deleted.
	WALKeptByNoBase = "no-base"
	// WALKeptByUnknownStart: a kept base backup does not say where it
	// starts, so no WAL is deleted.
	WALKeptByUnknownStart = "unknown-start"
)

// WALPrune is what prune deletes from the WAL archive (wal/ in the same
// store) and why the rest stays. Every kept base backup restores from its
// start to the next kept one, and the newest to now, so the WAL kept is
// everything from the start of the oldest kept base backup on.
type WALPrune struct {
	// Archived counts the files the archive holds (before the prune).
	Archived int `json:"archived"`
	// Files counts the files deleted (planned: to delete): segments and
	// .partial and .backup files; Segments the segments among them; Bytes
	// their stored size.
	Files    int   `json:"files"`
	Segments int   `json:"segments"`
	Bytes    int64 `json:"bytes"`
	// Kept counts the files that stay, History the history files among
	// them (never deleted).
	Kept    int `json:"kept"`
	History int `json:"history_kept"`
	// OldestKept is the oldest segment that stays ("" when none).
	OldestKept string `json:"oldest_kept"`
	// KeptBy is the rule (WALKeptBy…), Reason the same in words.
	KeptBy string `json:"kept_by"`
	Reason string `json:"reason"`
	// From is the oldest kept base backup, StartWAL/StartLSN/Timeline
	// where it starts; empty without one.
	From     string `json:"from,omitempty"`
	StartWAL string `json:"start_wal,omitempty"`
	StartLSN string `json:"start_lsn,omitempty"`
	Timeline int    `json:"timeline,omitempty"`
	// Warnings: the start segment of the oldest kept base backup is not in
	// the archive, etc.
	Warnings []string `json:"warnings"`

	cut    *wal.Cutoff
	delete []wal.Segment
}

// walArchive is the store's WAL archive, for listing and deleting only
// (nothing is decrypted).
func (e *Engine) walArchive() *wal.Archive {
	return &wal.Archive{Store: e.Store, Now: e.Now}
}

// PlanWAL adds to p what prune does to the WAL archive: after p decided
// which base backups of c stay, the files that end before the start of the
// oldest kept one (the one with the smallest start LSN) go; history files
// stay; with no base backup, or a kept one that does not say where it
// starts, nothing goes.
func (e *Engine) PlanWAL(ctx context.Context, c *Catalog, p *PrunePlan) error {
	segs, err := e.walArchive().List(ctx)
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, b := range p.Backups {
		if b.Keep {
			keep[b.ID] = true
		}
	}
	var kept []Manifest
	for _, m := range c.Backups {
		if keep[m.ID] {
			kept = append(kept, m)
		}
	}
	p.WAL = walPlan(segs, kept, c.Backups)
	return nil
}

// walPlan decides with kept, the base backups that stay (any order; other
// types are ignored); all is every backup, to tell "no base backup" from
// "none kept".
func walPlan(segs []wal.Segment, kept, all []Manifest) *WALPrune {
	w := &WALPrune{Archived: len(segs), Kept: len(segs), Warnings: []string{}}
	for _, s := range segs {
		if s.Kind == wal.KindHistory {
			w.History++
		}
	}
	oldest, cut, why := oldestStart(kept)
	switch {
	case why != "":
		w.KeptBy, w.Reason = WALKeptByUnknownStart, why+": no WAL is deleted"
		return w
	case oldest == nil:
		w.KeptBy, w.Reason = WALKeptByNoBase, "no base backup: no WAL is deleted"
		for _, m := range all {
			if m.Kind() == TypeBase { // cannot happen: prune keeps the newest base backup
				w.Reason = "no base backup is kept: no WAL is deleted"
			}
		}
		return w
	}
	ps := wal.Prunable(segs, cut)
	w.cut, w.delete = &cut, ps.Delete
	w.From, w.StartWAL, w.StartLSN, w.Timeline = oldest.ID, oldest.Base.StartWAL, oldest.Base.StartLSN, oldest.Base.Timeline
	w.count(ps)
	w.KeptBy = WALKeptByBaseStart
	w.Reason = fmt.Sprintf("the WAL from %s on (start LSN %s, timeline %d) restores the oldest kept base backup %s and every newer one up to now; history files are always kept",
		ps.StartSegment, oldest.Base.StartLSN, oldest.Base.Timeline, oldest.ID)
	if !ps.StartArchived && len(segs) > 0 {
		w.Warnings = append(w.Warnings, fmt.Sprintf("the segment %s in which base backup %s starts is not in the WAL archive: see 'deployctl wal verify'", ps.StartSegment, oldest.ID))
	}
	return w
}

func (w *WALPrune) count(ps *wal.PruneSet) {
	w.Files, w.Segments, w.Bytes, w.Kept, w.History, w.OldestKept = len(ps.Delete), 0, ps.Bytes, ps.Kept, ps.History, ""
	for _, s := range ps.Delete {
		if s.Kind == wal.KindSegment {
			w.Segments++
		}
	}
	if ps.OldestKept != nil {
		w.OldestKept = ps.OldestKept.Name
	}
}

// oldestStart is the base backup among ms that starts earliest in the WAL
// (smallest start LSN, then timeline), and where; why says that one of
// them does not tell where it starts (nothing can be deleted then).
func oldestStart(ms []Manifest) (*Manifest, wal.Cutoff, string) {
	var oldest *Manifest
	var cut wal.Cutoff
	for i := range ms {
		m := &ms[i]
		if m.Kind() != TypeBase {
			continue
		}
		if m.Base == nil || m.Base.Timeline <= 0 {
			return nil, cut, fmt.Sprintf("base backup %s does not say where in the WAL it starts", m.ID)
		}
		lsn, err := wal.ParseLSN(m.Base.StartLSN)
		if err != nil {
			return nil, cut, fmt.Sprintf("base backup %s has start_lsn %q", m.ID, m.Base.StartLSN)
		}
		c := wal.Cutoff{LSN: lsn, Timeline: uint32(m.Base.Timeline)}
		if oldest == nil || c.LSN < cut.LSN || c.LSN == cut.LSN && c.Timeline < cut.Timeline {
			oldest, cut = m, c
		}
	}
	return oldest, cut, ""
}

// pruneWAL deletes the WAL that p.WAL planned, after the backups are gone.
// It decides again on what the store holds now: a base backup that prune
// kept because a verify or a restore reads it (kept_by lease), or one
// created meanwhile, holds its WAL back, and nothing that the plan did not
// show is deleted.
func (e *Engine) pruneWAL(ctx context.Context, p *PrunePlan) error {
	w := p.WAL
	if w == nil || w.cut == nil || len(w.delete) == 0 {
		if w != nil {
			w.Files, w.Segments, w.Bytes = 0, 0, 0
		}
		return nil
	}
	c, err := Scan(ctx, e.Store)
	if err != nil {
		return err
	}
	segs, err := e.walArchive().List(ctx)
	if err != nil {
		return err
	}
	now := walPlan(segs, c.Backups, c.Backups) // every base backup still listed stays
	planned := map[string]bool{}
	for _, s := range w.delete {
		planned[s.Object] = true
	}
	var del []wal.Segment
	if now.cut != nil {
		for _, s := range now.delete {
			if planned[s.Object] {
				del = append(del, s)
			}
		}
	}
	if now.cut == nil || now.cut.LSN < w.cut.LSN {
		*w = *now // the plan's reasons no longer hold: say why less goes
	}
	done, err := e.walArchive().DeleteFiles(ctx, del)
	ps := &wal.PruneSet{Delete: done, Kept: len(segs) - len(done)}
	for _, s := range done {
		ps.Bytes += s.Stored
	}
	gone := map[string]bool{}
	for _, s := range done {
		gone[s.Object] = true
	}
	size := wal.SegmentSize(segs)
	for i := range segs {
		s := segs[i]
		if gone[s.Object] {
			continue
		}
		if s.Kind == wal.KindHistory {
			ps.History++
		}
		if s.Kind == wal.KindSegment && (ps.OldestKept == nil || s.SegNo(size) < ps.OldestKept.SegNo(size)) {
			ps.OldestKept = &s
		}
	}
	w.count(ps)
	w.Archived = len(segs)
	if err != nil {
		return fmt.Errorf("delete WAL: %w", err)
	}
	return nil
}
