package wal

import (
	"bufio"
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// HistoryEntry is one line of a timeline history file: timeline Parent
// ended at End, where its child began.
type HistoryEntry struct {
	Parent uint32 `json:"parent"`
	End    uint64 `json:"-"`
	EndLSN string `json:"end_lsn"`
}

// ParseHistory parses a timeline history file (00000002.history).
func ParseHistory(data []byte) ([]HistoryEntry, error) {
	var out []HistoryEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			return nil, fmt.Errorf("history line %q: want timeline and LSN", line)
		}
		tli, err := strconv.ParseUint(fields[0], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("history line %q: %w", line, err)
		}
		lsn, err := ParseLSN(fields[1])
		if err != nil {
			return nil, fmt.Errorf("history line %q: %w", line, err)
		}
		out = append(out, HistoryEntry{Parent: uint32(tli), End: lsn, EndLSN: fields[1]})
	}
	return out, sc.Err()
}

// ParseLSN parses an LSN as PostgreSQL writes it (16/B374D848).
func ParseLSN(s string) (uint64, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok {
		return 0, fmt.Errorf("%q is not an LSN (like 0/3000028)", s)
	}
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%q is not an LSN (like 0/3000028)", s)
	}
	return h<<32 | l, nil
}

// SegmentSize is the WAL segment size of an archive: the size of its
// segments, else PostgreSQL's default.
func SegmentSize(segs []Segment) int64 {
	for _, s := range segs {
		if s.Kind == KindSegment && s.Size > 0 {
			return s.Size
		}
	}
	return DefaultSegmentSize
}

// Gap is a run of segments missing from the archive.
type Gap struct {
	Timeline uint32 `json:"timeline"`
	From     string `json:"from"` // the first missing segment
	To       string `json:"to"`   // the last missing segment
	Missing  uint64 `json:"missing"`
}

func (g Gap) String() string {
	if g.Missing == 1 {
		return fmt.Sprintf("segment %s is missing", g.From)
	}
	return fmt.Sprintf("%d segments are missing: %s to %s", g.Missing, g.From, g.To)
}

// TimelineStatus sums up one timeline of the archive.
type TimelineStatus struct {
	Timeline uint32    `json:"timeline"`
	Segments int       `json:"segments"`
	Oldest   string    `json:"oldest"`
	Newest   string    `json:"newest"`
	NewestAt time.Time `json:"newest_archived_at"`
	// History says the timeline's history file is archived (timeline 1
	// has none).
	History  bool     `json:"history"`
	Partial  []string `json:"partial"`
	Gaps     []Gap    `json:"gaps"`
	Problems []string `json:"problems"`
}

// Timelines sums up segs per timeline, with the gaps between the oldest
// and the newest segment of each.
func Timelines(segs []Segment) []TimelineStatus {
	size := SegmentSize(segs)
	by := map[uint32]*TimelineStatus{}
	var ids []uint32
	get := func(tli uint32) *TimelineStatus {
		if t, ok := by[tli]; ok {
			return t
		}
		t := &TimelineStatus{Timeline: tli, Partial: []string{}, Gaps: []Gap{}, Problems: []string{}}
		by[tli], ids = t, append(ids, tli)
		return t
	}
	numbers := map[uint32][]uint64{}
	for _, s := range segs {
		t := get(s.Timeline)
		switch s.Kind {
		case KindHistory:
			t.History = true
		case KindPartial:
			t.Partial = append(t.Partial, s.Name)
		case KindSegment:
			t.Segments++
			numbers[s.Timeline] = append(numbers[s.Timeline], s.SegNo(size))
			if t.Oldest == "" || s.Name < t.Oldest {
				t.Oldest = s.Name
			}
			if s.Name > t.Newest {
				t.Newest, t.NewestAt = s.Name, s.Time
			}
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	out := make([]TimelineStatus, 0, len(ids))
	for _, id := range ids {
		t := by[id]
		t.Gaps = holes(id, numbers[id], size)
		if id > 1 && !t.History {
			t.Problems = append(t.Problems, fmt.Sprintf("timeline %d has no history file %s in the archive: a restore cannot follow it", id, HistoryName(id)))
		}
		out = append(out, *t)
	}
	return out
}

// holes returns the runs missing between the smallest and largest of nums.
func holes(tli uint32, nums []uint64, size int64) []Gap {
	sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
	gaps := []Gap{}
	for i := 1; i < len(nums); i++ {
		if nums[i] > nums[i-1]+1 {
			gaps = append(gaps, gap(tli, nums[i-1]+1, nums[i]-1, size))
		}
	}
	return gaps
}

func gap(tli uint32, from, to uint64, size int64) Gap {
	return Gap{Timeline: tli, From: SegmentName(tli, from, size), To: SegmentName(tli, to, size), Missing: to - from + 1}
}

// Chain returns the gaps a restore from segment start to the newest
// segment of timeline target would hit, following target's history: the
// segments before each switch point on the parent timeline, from the
// switch point on the child.
func Chain(segs []Segment, start File, target uint32, history []HistoryEntry) []Gap {
	size := SegmentSize(segs)
	have := map[string]bool{}
	var newest uint64
	found := false
	for _, s := range segs {
		if s.Kind != KindSegment {
			continue
		}
		have[s.Name] = true
		if s.Timeline == target && (!found || s.SegNo(size) > newest) {
			newest, found = s.SegNo(size), true
		}
	}
	gaps := []Gap{}
	if !found {
		return gaps
	}
	var cur *Gap
	for n := start.SegNo(size); n <= newest; n++ {
		tli := owner(n, target, history, size)
		if have[SegmentName(tli, n, size)] {
			cur = nil
			continue
		}
		if cur != nil && cur.Timeline == tli {
			cur.To, cur.Missing = SegmentName(tli, n, size), cur.Missing+1
			continue
		}
		gaps = append(gaps, gap(tli, n, n, size))
		cur = &gaps[len(gaps)-1]
	}
	return gaps
}

// owner is the timeline that holds segment n on the way to target.
func owner(n uint64, target uint32, history []HistoryEntry, size int64) uint32 {
	for _, h := range history {
		if n < h.End/uint64(size) {
			return h.Parent
		}
	}
	return target
}
