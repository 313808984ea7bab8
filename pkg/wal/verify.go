package wal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
)

// VerifyOptions say what a complete archive is.
type VerifyOptions struct {
	// Start is the first segment a restore needs (the start WAL of the
	// oldest kept base backup); empty: the oldest archived segment.
	Start string
	// MaxAge fails an archive whose newest segment is older; 0: no limit.
	MaxAge time.Duration
}

// VerifyReport is the result of Verify; OK when Problems is empty.
type VerifyReport struct {
	OK       bool     `json:"ok"`
	From     string   `json:"from"`
	Newest   *Segment `json:"newest"`
	Timeline uint32   `json:"timeline"`
	// AgeSeconds is how long ago the newest segment was archived.
	AgeSeconds *float64 `json:"age_seconds"`
	Gaps       []Gap    `json:"gaps"`
	Problems   []string `json:"problems"`
}

// Verify checks that the archive holds every segment from opts.Start (on
// the way the newest timeline's history says) to the newest, and that the
// newest is younger than opts.MaxAge.
func (a *Archive) Verify(ctx context.Context, opts VerifyOptions) (*VerifyReport, error) {
	segs, err := a.List(ctx)
	if err != nil {
		return nil, err
	}
	r := &VerifyReport{Gaps: []Gap{}, Problems: []string{}}
	r.Newest = newest(segs)
	if r.Newest == nil {
		r.Problems = append(r.Problems, "the WAL archive holds no segment: set archive_mode and archive_command (docs/backup.md, WAL archiving)")
		return r, nil
	}
	r.Timeline = r.Newest.Timeline
	start, err := a.start(segs, opts.Start)
	if err != nil {
		return nil, err
	}
	r.From = start.Name
	history, err := a.history(ctx, segs, r.Timeline)
	var unreach *provider.UnreachableError
	if errors.As(err, &unreach) || errors.Is(err, context.Canceled) {
		return nil, err
	}
	if err != nil {
		r.Problems = append(r.Problems, err.Error())
	}
	r.Gaps = Chain(segs, start, r.Timeline, history)
	for _, g := range r.Gaps {
		r.Problems = append(r.Problems, fmt.Sprintf("gap in the WAL archive (timeline %d): %s", g.Timeline, g))
	}
	age := a.now().Sub(r.Newest.Time)
	s := age.Seconds()
	r.AgeSeconds = &s
	if opts.MaxAge > 0 && age > opts.MaxAge {
		r.Problems = append(r.Problems, fmt.Sprintf("the newest archived WAL segment %s is %s old, more than --max-age %s: is the archiver failing? see 'deployctl wal status'",
			r.Newest.Name, age.Round(time.Second), opts.MaxAge))
	}
	r.OK = len(r.Problems) == 0
	return r, nil
}

// start is the named segment, or the oldest archived one.
func (a *Archive) start(segs []Segment, name string) (File, error) {
	if name != "" {
		return ParseName(name)
	}
	size := SegmentSize(segs)
	var oldest *Segment
	for i := range segs {
		if segs[i].Kind == KindSegment && (oldest == nil || segs[i].SegNo(size) < oldest.SegNo(size)) {
			oldest = &segs[i]
		}
	}
	return oldest.File, nil
}

// history reads the history file of timeline tli (none for timeline 1).
func (a *Archive) history(ctx context.Context, segs []Segment, tli uint32) ([]HistoryEntry, error) {
	if tli <= 1 {
		return nil, nil
	}
	name := HistoryName(tli)
	for _, s := range segs {
		if s.Name != name {
			continue
		}
		data, err := a.open(ctx, s)
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: %w", name, err)
		}
		return ParseHistory(data)
	}
	return nil, fmt.Errorf("timeline %d has no history file %s in the archive: a restore cannot follow it", tli, name)
}
