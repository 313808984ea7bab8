package wal

import (
	"context"
	"errors"
	"sort"

	"github.com/deployctl/deployctl/pkg/provider"
)

// Cutoff is where the WAL that a retention keeps begins: the start LSN and
// the timeline of the oldest kept base backup (the one with the smallest
// start LSN). A restore from a base backup needs the WAL from the segment
// that holds its start LSN on, on its timeline and the timelines that
// follow it, never a segment before that one.
type Cutoff struct {
	LSN      uint64
	Timeline uint32
}

// PruneSet is what a retention deletes from the archive and what it keeps.
type PruneSet struct {
	// Delete is in the order it is deleted: by segment number, then
	// timeline, so that a prune that stops half-way leaves the archive
	// without a hole (only its oldest end is gone).
	Delete []Segment
	// Bytes is the stored size of Delete.
	Bytes int64
	// Kept counts the files kept, History the history files among them
	// (always all of them).
	Kept, History int
	// OldestKept is the oldest segment kept (by segment number, then
	// timeline); nil when no segment is kept.
	OldestKept *Segment
	// StartSegment is the name of the cutoff's segment on its timeline;
	// StartArchived says the archive holds it.
	StartSegment  string
	StartArchived bool
}

// Prunable decides which files of segs (an archive's List) a retention
// that keeps the WAL from c on may delete. History files are never
// deleted: they are tiny, and a recovery that follows a timeline needs
// every one of them. Segments, .partial and .backup files are deleted
// only when they end before c.LSN:
//
//   - on c's timeline and newer ones, a file whose segment comes before
//     the segment that holds c.LSN (the cutoff's own segment and every
//     later one stay);
//   - on older timelines, a file whose segment ends at or before c.LSN,
//     so that the parent's segment in which the oldest kept base backup
//     starts (a promotion's switch segment, its .partial) stays too.
//
// Both amount to "the whole segment lies before the start LSN": a segment
// that a restore from any kept base backup reads is never deleted.
func Prunable(segs []Segment, c Cutoff) *PruneSet {
	size := SegmentSize(segs)
	startSeg := c.LSN / uint64(size)
	ps := &PruneSet{StartSegment: SegmentName(c.Timeline, startSeg, size)}
	for i := range segs {
		s := segs[i]
		if s.Kind == KindSegment && s.Name == ps.StartSegment {
			ps.StartArchived = true
		}
		if !deletable(s, c, size) {
			ps.Kept++
			if s.Kind == KindHistory {
				ps.History++
			}
			if s.Kind == KindSegment && (ps.OldestKept == nil || before(s, *ps.OldestKept, size)) {
				k := s
				ps.OldestKept = &k
			}
			continue
		}
		ps.Delete = append(ps.Delete, s)
		ps.Bytes += s.Stored
	}
	sort.SliceStable(ps.Delete, func(i, j int) bool { return before(ps.Delete[i], ps.Delete[j], size) })
	return ps
}

func deletable(s Segment, c Cutoff, size int64) bool {
	if s.Kind == KindHistory {
		return false
	}
	n := s.SegNo(size)
	if s.Timeline >= c.Timeline {
		return n < c.LSN/uint64(size)
	}
	return (n+1)*uint64(size) <= c.LSN
}

func before(a, b Segment, size int64) bool {
	if a.SegNo(size) != b.SegNo(size) {
		return a.SegNo(size) < b.SegNo(size)
	}
	if a.Timeline != b.Timeline {
		return a.Timeline < b.Timeline
	}
	return a.Name < b.Name
}

// DeleteFiles deletes segs from the store in their order and returns what
// it deleted; a file that is gone already counts as deleted. History
// files are refused (skipped): nothing deletes them.
func (a *Archive) DeleteFiles(ctx context.Context, segs []Segment) ([]Segment, error) {
	var done []Segment
	for _, s := range segs {
		if s.Kind == KindHistory {
			continue
		}
		if err := a.Store.Delete(ctx, s.Object); err != nil && !errors.Is(err, provider.ErrNotFound) {
			return done, a.unreachable("delete "+s.Object, err)
		}
		done = append(done, s)
	}
	return done, nil
}
