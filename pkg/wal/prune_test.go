package wal_test

import (
	"strings"
	"testing"

	"github.com/deployctl/deployctl/pkg/wal"
)

func archived(t *testing.T, names ...string) []wal.Segment {
	t.Helper()
	var out []wal.Segment
	for _, n := range names {
		f, err := wal.ParseName(n)
		must(t, err)
		size := int64(wal.DefaultSegmentSize)
		if f.Kind == wal.KindHistory {
			size = 42
		}
		out = append(out, wal.Segment{File: f, Size: size, Stored: 1000, Object: "wal/" + n})
	}
	return out
}

func names(segs []wal.Segment) string {
	var out []string
	for _, s := range segs {
		out = append(out, s.Name)
	}
	return strings.Join(out, " ")
}

// A cutoff on timeline 2 in the segment of the promotion (7): timeline 1's
// segments that end before it go, its segment 7 and 7.partial (the switch
// segment, not entirely before the start LSN) stay, and so does every
// history file; timeline 2 keeps its start segment and what follows; a
// timeline 3 branched off earlier loses what ends before the start LSN.
func TestPrunableKeepsTheStartSegmentOnEveryTimeline(t *testing.T) {
	segs := archived(t,
		"000000010000000000000005", "000000010000000000000006", "000000010000000000000007", "000000010000000000000007.partial",
		"000000010000000000000006.00000028.backup",
		"00000002.history", "000000020000000000000007", "000000020000000000000008",
		"00000003.history", "000000030000000000000004", "000000030000000000000009")
	lsn, err := wal.ParseLSN("0/7000060")
	must(t, err)
	ps := wal.Prunable(segs, wal.Cutoff{LSN: lsn, Timeline: 2})
	if got := names(ps.Delete); got != "000000030000000000000004 000000010000000000000005 000000010000000000000006 000000010000000000000006.00000028.backup" {
		t.Errorf("deleted: %s", got)
	}
	if ps.Kept != 7 || ps.History != 2 || ps.Bytes != 4000 || ps.OldestKept == nil || ps.OldestKept.Name != "000000010000000000000007" ||
		ps.StartSegment != "000000020000000000000007" || !ps.StartArchived {
		t.Errorf("kept %d, history %d, bytes %d, oldest %v, start %s %v", ps.Kept, ps.History, ps.Bytes, ps.OldestKept, ps.StartSegment, ps.StartArchived)
	}
	// the start LSN at the very beginning of segment 7: segment 6 of timeline 1 ends there
	ps = wal.Prunable(segs, wal.Cutoff{LSN: 7 * wal.DefaultSegmentSize, Timeline: 2})
	if got := names(ps.Delete); !strings.Contains(got, "000000010000000000000006 ") || strings.Contains(got, "07") {
		t.Errorf("deleted with the start LSN on a segment boundary: %s", got)
	}
	// nothing before the first segment
	if ps := wal.Prunable(segs, wal.Cutoff{LSN: 0x10, Timeline: 1}); len(ps.Delete) != 0 {
		t.Errorf("a cutoff in segment 0 deleted %s", names(ps.Delete))
	}
}

func TestDeleteFilesNeverDeletesHistory(t *testing.T) {
	a, _ := newArchive(t)
	dir := t.TempDir()
	for _, n := range []string{"000000010000000000000001", "00000002.history"} {
		p, _ := segment(t, dir, n, 1024)
		must(t, a.Push(t.Context(), p))
	}
	all, err := a.List(t.Context())
	must(t, err)
	done, err := a.DeleteFiles(t.Context(), all)
	must(t, err)
	left, _ := a.List(t.Context())
	if names(done) != "000000010000000000000001" || names(left) != "00000002.history" {
		t.Errorf("deleted %s, left %s", names(done), names(left))
	}
	// deleting again what is gone already is not an error
	if _, err := a.DeleteFiles(t.Context(), done); err != nil {
		t.Errorf("delete of a file gone already: %v", err)
	}
}
