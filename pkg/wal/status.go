package wal

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ArchiverStats is what the server says about its archiving
// (pg_stat_archiver and the settings).
type ArchiverStats struct {
	ArchiveMode      string        `json:"archive_mode"`
	ArchiveTimeout   time.Duration `json:"-"`
	ArchivedCount    int64         `json:"archived_count"`
	LastArchivedWAL  string        `json:"last_archived_wal"`
	LastArchivedTime *time.Time    `json:"last_archived_time"`
	FailedCount      int64         `json:"failed_count"`
	LastFailedWAL    string        `json:"last_failed_wal"`
	LastFailedTime   *time.Time    `json:"last_failed_time"`
	// Ready is the count of segments waiting for archive_command
	// (archive_status/*.ready); -1 when the role may not list them.
	Ready int `json:"ready"`
	// CurrentWAL is the segment the server writes now (empty on a standby).
	CurrentWAL string `json:"current_wal"`
}

// Server reads the archiver's state of a PostgreSQL server.
type Server interface {
	Archiver(ctx context.Context) (*ArchiverStats, error)
}

// Status is the state of the archive and of the server's archiver.
type Status struct {
	Now       time.Time        `json:"now"`
	Timelines []TimelineStatus `json:"timelines"`
	// Newest is the newest segment of the newest timeline.
	Newest *Segment `json:"newest"`
	// RecoveryPoint is how much would be lost now: now − the time the newest
	// segment was archived; ArchiveTimeout bounds it while the server runs.
	RecoveryPoint  *time.Duration `json:"-"`
	ArchiveTimeout *time.Duration `json:"-"`
	Archiver       *ArchiverStats `json:"archiver"`
	Problems       []string       `json:"problems"`
	Seconds        statusSeconds  `json:"seconds"`
	ServerError    string         `json:"server_error,omitempty"`
}

type statusSeconds struct {
	RecoveryPoint  *float64 `json:"recovery_point"`
	ArchiveTimeout *float64 `json:"archive_timeout"`
}

// Status reads the archive and, when srv is set, the server's archiver.
// A server that cannot be reached is reported in ServerError: the archive
// is what a restore needs, and it can be read without the server.
func (a *Archive) Status(ctx context.Context, srv Server) (*Status, error) {
	segs, err := a.List(ctx)
	if err != nil {
		return nil, err
	}
	st := &Status{Now: a.now(), Timelines: Timelines(segs), Problems: []string{}}
	st.Newest = newest(segs)
	if st.Newest != nil {
		rpo := st.Now.Sub(st.Newest.Time)
		st.RecoveryPoint = &rpo
	}
	for _, t := range st.Timelines {
		for _, g := range t.Gaps {
			st.Problems = append(st.Problems, fmt.Sprintf("timeline %d: %s", t.Timeline, g))
		}
		st.Problems = append(st.Problems, t.Problems...)
	}
	if srv != nil {
		a.addServer(ctx, st, srv)
	}
	st.Seconds = statusSeconds{RecoveryPoint: seconds(st.RecoveryPoint), ArchiveTimeout: seconds(st.ArchiveTimeout)}
	return st, nil
}

func (a *Archive) addServer(ctx context.Context, st *Status, srv Server) {
	as, err := srv.Archiver(ctx)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return
		}
		st.ServerError = err.Error()
		return
	}
	st.Archiver = as
	if as.ArchiveTimeout > 0 {
		t := as.ArchiveTimeout
		st.ArchiveTimeout = &t
	}
	if as.ArchiveMode == "off" {
		st.Problems = append(st.Problems, "archive_mode is off on the server: nothing is archived (see docs/backup.md, WAL archiving)")
	}
	if as.LastFailedWAL != "" && (as.LastArchivedTime == nil || as.LastFailedTime != nil && as.LastFailedTime.After(*as.LastArchivedTime)) {
		st.Problems = append(st.Problems, fmt.Sprintf("the archiver's last attempt failed: %s at %s (%d failures so far); see the server's log for archive_command's message",
			as.LastFailedWAL, as.LastFailedTime.UTC().Format(time.RFC3339), as.FailedCount))
	}
}

func seconds(d *time.Duration) *float64 {
	if d == nil {
		return nil
	}
	s := d.Seconds()
	return &s
}

// newest is the newest segment of the highest timeline that has one.
func newest(segs []Segment) *Segment {
	var n *Segment
	for i := range segs {
		s := &segs[i]
		if s.Kind != KindSegment {
			continue
		}
		if n == nil || s.Timeline > n.Timeline || s.Timeline == n.Timeline && s.Name > n.Name {
			n = s
		}
	}
	if n == nil {
		return nil
	}
	c := *n
	return &c
}
