package wal

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Prefix is where WAL lives in the backup store, one folder per timeline:
// wal/<timeline>/<file>.<size>.<sha256>.zst[.age]. Backups use folders
// named by their id, which never is "wal".
const Prefix = "wal/"

// Kind is what a WAL file is.
type Kind string

const (
	KindSegment Kind = "segment" // 000000010000000000000003
	KindPartial Kind = "partial" // 000000010000000000000005.partial, left by a promotion
	KindHistory Kind = "history" // 00000002.history
	KindBackup  Kind = "backup"  // 000000010000000000000003.00000028.backup
)

var (
	segmentRe = regexp.MustCompile(`^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$`)
	partialRe = regexp.MustCompile(`^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})\.partial$`)
	backupRe  = regexp.MustCompile(`^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})\.[0-9A-F]{8}\.backup$`)
	historyRe = regexp.MustCompile(`^([0-9A-F]{8})\.history$`)
	sha256Re  = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// File is a parsed WAL file name.
type File struct {
	Name     string `json:"name"`
	Kind     Kind   `json:"kind"`
	Timeline uint32 `json:"timeline"`
	// Log and Seg are the two halves of a segment number as the name
	// writes them (zero for a history file).
	Log uint32 `json:"-"`
	Seg uint32 `json:"-"`
}

// ParseName parses a WAL file name as PostgreSQL passes it (%f).
func ParseName(name string) (File, error) {
	f := File{Name: name}
	var m []string
	switch {
	case segmentRe.MatchString(name):
		f.Kind, m = KindSegment, segmentRe.FindStringSubmatch(name)
	case partialRe.MatchString(name):
		f.Kind, m = KindPartial, partialRe.FindStringSubmatch(name)
	case backupRe.MatchString(name):
		f.Kind, m = KindBackup, backupRe.FindStringSubmatch(name)
	case historyRe.MatchString(name):
		f.Kind, m = KindHistory, historyRe.FindStringSubmatch(name)
	default:
		return f, fmt.Errorf("%q is not a WAL file name (000000010000000000000003, 00000002.history, ….partial or ….backup)", name)
	}
	f.Timeline = hex32(m[1])
	if len(m) > 3 {
		f.Log, f.Seg = hex32(m[2]), hex32(m[3])
	}
	return f, nil
}

func hex32(s string) uint32 {
	v, _ := strconv.ParseUint(s, 16, 32) // the regexps let only 8 hex digits through
	return uint32(v)
}

// SegNo is the segment's number counted from the start of WAL, for
// segments of size bytes.
func (f File) SegNo(size int64) uint64 {
	return uint64(f.Log)*segsPerLog(size) + uint64(f.Seg)
}

func segsPerLog(size int64) uint64 {
	if size <= 0 {
		size = DefaultSegmentSize
	}
	return 0x100000000 / uint64(size)
}

// DefaultSegmentSize is PostgreSQL's default wal_segment_size.
const DefaultSegmentSize = 16 << 20

// SegmentName is the name of segment segno of timeline tli.
func SegmentName(tli uint32, segno uint64, size int64) string {
	n := segsPerLog(size)
	return fmt.Sprintf("%08X%08X%08X", tli, segno/n, segno%n)
}

// HistoryName is the name of the history file of timeline tli.
func HistoryName(tli uint32) string { return fmt.Sprintf("%08X.history", tli) }

func timelineDir(tli uint32) string { return fmt.Sprintf("%s%08X/", Prefix, tli) }

// objectName is the store object of f: its original size and sha256 are
// part of the name, so that a push learns from one List whether the
// segment is there already and with which content, without reading (or
// being able to decrypt) it.
func objectName(f File, size int64, sum string, encrypted bool) string {
	name := fmt.Sprintf("%s%s.%d.%s.zst", timelineDir(f.Timeline), f.Name, size, sum)
	if encrypted {
		name += ".age"
	}
	return name
}

// parseObject reverses objectName; ok is false for objects not ours.
func parseObject(obj string) (f File, size int64, sum string, encrypted bool, ok bool) {
	rest, found := strings.CutPrefix(obj, Prefix)
	if !found {
		return f, 0, "", false, false
	}
	_, rest, found = strings.Cut(rest, "/")
	if !found {
		return f, 0, "", false, false
	}
	if rest, encrypted = strings.CutSuffix(rest, ".age"); true {
		if rest, found = strings.CutSuffix(rest, ".zst"); !found {
			return f, 0, "", false, false
		}
	}
	i := strings.LastIndexByte(rest, '.')
	if i < 0 || !sha256Re.MatchString(rest[i+1:]) {
		return f, 0, "", false, false
	}
	rest, sum = rest[:i], rest[i+1:]
	j := strings.LastIndexByte(rest, '.')
	if j < 0 {
		return f, 0, "", false, false
	}
	size, err := strconv.ParseInt(rest[j+1:], 10, 64)
	if err != nil {
		return f, 0, "", false, false
	}
	f, err = ParseName(rest[:j])
	if err != nil || !strings.HasPrefix(obj, timelineDir(f.Timeline)) {
		return f, 0, "", false, false
	}
	return f, size, sum, encrypted, true
}
