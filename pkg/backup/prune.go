package backup

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/deployctl/deployctl/pkg/history"
	"github.com/deployctl/deployctl/pkg/provider"
)

// Policy is how many backups to keep: the newest of each of the last
// Daily days, Weekly ISO weeks and Monthly months that have a backup (UTC).
type Policy struct {
	Daily, Weekly, Monthly int
	// Grace protects folders without a manifest younger than this: they may
	// be a create in progress.
	Grace time.Duration
}

// DefaultGrace is the age after which an orphan is surely not a create in
// progress.
const DefaultGrace = 24 * time.Hour

// PruneItem is the decision for one backup.
type PruneItem struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"`
	SizeBytes int64     `json:"size_bytes"`
	Keep      bool      `json:"keep"`
	Reasons   []string  `json:"reasons"` // why kept; empty when deleted
	// KeptBy names the rules that keep it (KeptBy…, "daily", "weekly",
	// "monthly"); empty when deleted.
	KeptBy []string `json:"kept_by"`
}

// The rules of prune besides the retention counts, as KeptBy names them.
const (
	KeptByNewest   = "newest"   // the newest backup
	KeptByVerified = "verified" // the newest backup verified OK at level restore
	KeptByLease    = "lease"    // a verify or a restore is reading it
)

// OrphanItem is the decision for a folder without a manifest.
type OrphanItem struct {
	Orphan
	Delete bool   `json:"delete"`
	Reason string `json:"reason"`
}

// PrunePlan is what prune would keep and delete.
type PrunePlan struct {
	Policy  Policy       `json:"-"`
	Backups []PruneItem  `json:"backups"`
	Orphans []OrphanItem `json:"orphans"`
	Broken  []string     `json:"broken"` // never deleted: their manifest cannot be read
	// WAL is what prune does to the WAL archive (PlanWAL); nil: not planned.
	WAL *WALPrune `json:"wal,omitempty"`
}

// Plan decides, for every backup in c (newest first), whether p keeps it.
// It always keeps the newest backup and the newest one verified at level
// restore: a checksum or archive verification does not prove a backup
// restores, so it does not count.
func Plan(c *Catalog, p Policy, now time.Time) *PrunePlan {
	plan := &PrunePlan{Policy: p, Backups: []PruneItem{}, Orphans: []OrphanItem{}, Broken: []string{}}
	for _, m := range c.Backups {
		plan.Backups = append(plan.Backups, PruneItem{ID: m.ID, CreatedAt: m.CreatedAt, SizeBytes: m.SizeBytes, Reasons: []string{}, KeptBy: []string{}})
	}
	if len(c.Backups) > 0 {
		plan.keep(0, KeptByNewest, "newest backup")
	}
	for i, m := range c.Backups {
		if v := m.Verification; v != nil && v.OK && v.Level == LevelRestore {
			plan.keep(i, KeptByVerified, "newest verified backup ("+v.Level+")")
			break
		}
	}
	plan.keepBase(c)
	plan.rule(c, "daily", p.Daily, func(t time.Time) string { return t.Format("2006-01-02") })
	plan.rule(c, "weekly", p.Weekly, func(t time.Time) string {
		y, w := t.ISOWeek()
		return fmt.Sprintf("%d-W%02d", y, w)
	})
	plan.rule(c, "monthly", p.Monthly, func(t time.Time) string { return t.Format("2006-01") })
	for _, o := range c.Orphans {
		plan.Orphans = append(plan.Orphans, orphanItem(o, p.Grace, now))
	}
	for id := range c.Broken {
		plan.Broken = append(plan.Broken, id)
	}
	return plan
}

func (p *PrunePlan) keep(i int, rule, why string) {
	p.Backups[i].Keep = true
	p.Backups[i].KeptBy = append(p.Backups[i].KeptBy, rule)
	p.Backups[i].Reasons = append(p.Backups[i].Reasons, why)
}

// rule keeps the newest backup of each of the n newest periods.
func (p *PrunePlan) rule(c *Catalog, name string, n int, period func(time.Time) string) {
	last, kept := "", 0
	for i, m := range c.Backups {
		if kept >= n {
			return
		}
		key := period(m.CreatedAt.UTC())
		if key == last {
			continue
		}
		last = key
		kept++
		p.keep(i, name, fmt.Sprintf("%s %d/%d (%s)", name, kept, n, key))
	}
}

func orphanItem(o Orphan, grace time.Duration, now time.Time) OrphanItem {
	age := now.Sub(o.Newest)
	if age < grace {
		return OrphanItem{Orphan: o, Reason: fmt.Sprintf("no manifest, written %s ago: may be a backup in progress", age.Round(time.Second))}
	}
	return OrphanItem{Orphan: o, Delete: true, Reason: "no manifest: left by an interrupted create or prune"}
}

// Deletions counts what the plan deletes.
func (p *PrunePlan) Deletions() (backups, orphans int) {
	for _, b := range p.Backups {
		if !b.Keep {
			backups++
		}
	}
	for _, o := range p.Orphans {
		if o.Delete {
			orphans++
		}
	}
	return backups, orphans
}

// IncompleteAborter is the optional ability of a store to drop uploads that
// never completed (S3 multipart uploads of a killed create), which List
// does not show.
type IncompleteAborter interface {
	AbortIncomplete(ctx context.Context, before time.Time) (int, error)
}

// Apply deletes what the plan says (the backups, then the WAL that only
// deleted base backups needed, when PlanWAL planned it), then aborts incomplete uploads older
// than the grace period where the store has them; it returns how many.
// The prune is recorded in the history, failed or not.
func (e *Engine) Apply(ctx context.Context, p *PrunePlan) (aborted int, err error) {
	aborted, err = e.apply(ctx, p)
	rep := p.Report()
	rep.Applied, rep.AbortedUploads = err == nil, aborted
	ent := provider.Entry{Command: "backup prune", Before: len(p.Backups), After: rep, Result: history.Result(err)}
	if err != nil {
		ent.Detail = err.Error()
	}
	e.History.Record(ctx, ent)
	return aborted, err
}

// PruneReport is a prune as `backup prune -o json` and the history show it.
type PruneReport struct {
	Applied bool           `json:"applied"`
	Policy  map[string]int `json:"policy"`
	Backups []PruneItem    `json:"backups"`
	Orphans []OrphanItem   `json:"orphans"`
	Broken  []string       `json:"broken"`
	// AbortedUploads counts unfinished S3 uploads (a create killed
	// mid-upload) older than the grace period that the prune aborted.
	AbortedUploads int `json:"aborted_uploads"`
	// WAL is what prune deletes from the WAL archive (files, bytes, the
	// oldest kept segment and the rule that keeps it); absent when the
	// prune did not look at the archive.
	WAL *WALPrune `json:"wal,omitempty"`
}

// Report is p before it is applied.
func (p *PrunePlan) Report() *PruneReport {
	return &PruneReport{Policy: map[string]int{"daily": p.Policy.Daily, "weekly": p.Policy.Weekly, "monthly": p.Policy.Monthly},
		Backups: p.Backups, Orphans: p.Orphans, Broken: p.Broken, WAL: p.WAL}
}

func (e *Engine) apply(ctx context.Context, p *PrunePlan) (int, error) {
	if err := e.deleteAll(ctx, p); err != nil {
		if p.WAL != nil {
			p.WAL.Files, p.WAL.Segments, p.WAL.Bytes = 0, 0, 0 // not reached
		}
		return 0, err
	}
	if err := e.pruneWAL(ctx, p); err != nil {
		return 0, err
	}
	if a, ok := e.Store.(IncompleteAborter); ok {
		return a.AbortIncomplete(ctx, e.now().Add(-p.Policy.Grace))
	}
	return 0, nil
}

// deleteAll deletes the plan's backups and orphans. A backup loses its
// manifest first, so an interrupted prune leaves an orphan (removed by the
// next prune), never a listed backup with missing parts.
func (e *Engine) deleteAll(ctx context.Context, p *PrunePlan) error {
	for i := range p.Backups {
		b := &p.Backups[i]
		if b.Keep {
			continue
		}
		if busy, err := e.beingRead(ctx, b); err != nil || busy {
			if err != nil {
				return err
			}
			continue
		}
		if err := e.Store.Delete(ctx, b.ID+"/"+ManifestObject); err != nil {
			return fmt.Errorf("delete backup %s: %w", b.ID, err)
		}
		if err := e.deleteFolder(ctx, b.ID); err != nil {
			return err
		}
	}
	for _, o := range p.Orphans {
		if o.Delete {
			if err := e.deleteFolder(ctx, o.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *Engine) deleteFolder(ctx context.Context, id string) error {
	objs, err := e.Store.List(ctx, id+"/")
	if err != nil {
		return err
	}
	for _, o := range objs {
		if !strings.HasPrefix(o.Name, id+"/") {
			continue
		}
		if err := e.Store.Delete(ctx, o.Name); err != nil {
			return fmt.Errorf("delete %s: %w", o.Name, err)
		}
	}
	return nil
}

// beingRead keeps b when a verify or a restore holds a live read lease on
// it, saying who in its reasons: the next prune deletes it.
func (e *Engine) beingRead(ctx context.Context, b *PruneItem) (bool, error) {
	ls, err := e.readers(ctx, b.ID)
	if err != nil || len(ls) == 0 {
		return false, err
	}
	b.Keep = true
	b.KeptBy = append(b.KeptBy, KeptByLease)
	for _, l := range ls {
		b.Reasons = append(b.Reasons, "being read by "+l.String()+"; the next prune deletes it")
	}
	return true, nil
}
