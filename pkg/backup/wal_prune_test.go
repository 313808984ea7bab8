package backup_test

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/backup"
	"github.com/deployctl/deployctl/pkg/provider/local/filestore"
	"github.com/deployctl/deployctl/pkg/wal"
)

// putWAL stores archived WAL files by name only (prune lists and deletes,
// it never reads them): 16 MiB segments, as wal push names them.
func putWAL(t *testing.T, st *filestore.Store, names ...string) {
	t.Helper()
	for _, n := range names {
		f, err := wal.ParseName(n)
		must(t, err)
		obj := fmt.Sprintf("wal/%08X/%s.%d.%s.zst", f.Timeline, n, 16<<20, strings.Repeat("ab", 32))
		must(t, st.Put(t.Context(), obj, strings.NewReader("zstd")))
	}
}

func walLeft(t *testing.T, st *filestore.Store) string {
	t.Helper()
	segs, err := (&wal.Archive{Store: st}).List(t.Context())
	must(t, err)
	var out []string
	for _, s := range segs {
		out = append(out, s.Name)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// putBase stores the manifest of a base backup starting at lsn on tli
// (verified at level restore when verified).
func putBase(t *testing.T, st *filestore.Store, id string, at time.Time, lsn string, tli int, verified bool) {
	t.Helper()
	var seg uint64
	if v, err := wal.ParseLSN(lsn); err == nil {
		seg = v / (16 << 20)
	}
	m := backup.Manifest{ID: id, Type: backup.TypeBase, CreatedAt: at, Base: &backup.BaseInfo{
		StartLSN: lsn, StartWAL: wal.SegmentName(uint32(tli), seg, 16<<20), Timeline: tli}}
	raw, _ := json.Marshal(m)
	must(t, st.Put(t.Context(), id+"/"+backup.ManifestObject, strings.NewReader(string(raw))))
	must(t, st.Put(t.Context(), id+"/"+backup.BaseObject, strings.NewReader("tar")))
	if verified {
		must(t, backup.SaveVerification(t.Context(), st, id, backup.Verification{Level: backup.LevelRestore, OK: true, At: at}))
	}
}

var walFiles = []string{
	"000000010000000000000001", "000000010000000000000002", "000000010000000000000002.00000028.backup",
	"000000010000000000000003", "000000010000000000000004", "000000010000000000000005",
	"000000010000000000000006", "000000010000000000000007", "000000010000000000000007.partial",
	"00000002.history", "000000020000000000000007", "000000020000000000000008", "000000020000000000000009",
}

// three base backups: the oldest (b1) goes, the one verified at level
// restore (b2, not the newest) and the newest (b3, on timeline 2) stay.
func walPruneStore(t *testing.T) (*backup.Engine, *filestore.Store) {
	e, st := newEngine(t)
	day := func(d int) time.Time { return time.Date(2026, 11, d, 3, 0, 0, 0, time.UTC) }
	putBase(t, st, "20261120T030000Z-b1b1", day(20), "0/2000028", 1, false)
	putBase(t, st, "20261122T030000Z-b2b2", day(22), "0/5000028", 1, true)
	putBase(t, st, "20261124T030000Z-b3b3", day(24), "0/8000060", 2, false)
	putWAL(t, st, walFiles...)
	return e, st
}

func walPrunePlan(t *testing.T, e *backup.Engine, st *filestore.Store) *backup.PrunePlan {
	t.Helper()
	c, err := backup.Scan(t.Context(), st)
	must(t, err)
	p := backup.Plan(c, backup.Policy{}, time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC))
	must(t, e.PlanWAL(t.Context(), c, p))
	return p
}

// Prune keeps the WAL from the start of the oldest kept base backup on —
// here the newest restore-verified one, not the newest — and deletes what
// ends before it; history files and the parent timeline's files from that
// segment on stay; the dry run deletes nothing.
func TestPruneWALKeepsWhatKeptBaseBackupsNeed(t *testing.T) {
	e, st := walPruneStore(t)
	p := walPrunePlan(t, e, st)
	if got := decisions(p); got != "+20261124 +20261122 -20261120" {
		t.Fatalf("plan: %s", got)
	}
	w := p.WAL
	if w == nil || w.Files != 5 || w.Segments != 4 || w.Bytes != 5*4 || w.OldestKept != "000000010000000000000005" || w.KeptBy != backup.WALKeptByBaseStart ||
		w.From != "20261122T030000Z-b2b2" || w.StartWAL != "000000010000000000000005" || w.History != 1 || w.Kept != 8 || len(w.Warnings) != 0 {
		t.Fatalf("WAL plan: %+v", w)
	}
	if !strings.Contains(w.Reason, "000000010000000000000005") || !strings.Contains(w.Reason, "20261122T030000Z-b2b2") {
		t.Errorf("reason: %s", w.Reason)
	}
	before := walLeft(t, st)
	if len(strings.Fields(before)) != len(walFiles) {
		t.Fatalf("planning changed the archive: %s", before)
	}
	_, err := e.Apply(t.Context(), p)
	must(t, err)
	want := "000000010000000000000005 000000010000000000000006 000000010000000000000007 000000010000000000000007.partial 00000002.history " +
		"000000020000000000000007 000000020000000000000008 000000020000000000000009"
	if got := walLeft(t, st); got != want {
		t.Errorf("after prune --apply the archive holds\n %s\nwant\n %s", got, want)
	}
	if p.WAL.Files != 5 || p.Report().WAL.Files != 5 {
		t.Errorf("applied WAL report: %+v", p.WAL)
	}
	if _, err := os.Stat(st.Dir + "/20261120T030000Z-b1b1"); !os.IsNotExist(err) {
		t.Errorf("the oldest base backup was not deleted: %v", err)
	}
	// a second prune has nothing left to delete
	if p := walPrunePlan(t, e, st); p.WAL.Files != 0 || p.WAL.OldestKept != "000000010000000000000005" {
		t.Errorf("second plan: %+v", p.WAL)
	}
}

// A base backup that a verify reads is kept (kept_by lease) and holds its
// WAL back: the prune deletes only what ends before that backup's start,
// never more than the plan showed.
func TestPruneWALRespectsLeases(t *testing.T) {
	e, st := walPruneStore(t)
	raw, _ := json.Marshal(backup.Lease{Command: "backup verify", Host: "elsewhere", PID: 1, Expires: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
	p := walPrunePlan(t, e, st)
	if p.WAL.Files != 5 {
		t.Fatalf("plan: %+v", p.WAL)
	}
	must(t, st.Put(t.Context(), "20261120T030000Z-b1b1/leases/elsewhere-1-1.json", strings.NewReader(string(raw)))) // after the plan
	_, err := e.Apply(t.Context(), p)
	must(t, err)
	if !strings.Contains(strings.Join(p.Backups[2].KeptBy, ","), backup.KeptByLease) {
		t.Fatalf("the leased base backup: %+v", p.Backups[2])
	}
	if got := walLeft(t, st); strings.Contains(got, "000000010000000000000002") == false || strings.Contains(got, "000000010000000000000001 ") ||
		p.WAL.Files != 1 || p.WAL.From != "20261120T030000Z-b1b1" || p.WAL.OldestKept != "000000010000000000000002" {
		t.Errorf("with base backup b1 leased: left %s; report %+v", got, p.WAL)
	}
}

// Without a base backup no WAL is deleted, however old.
func TestPruneWALWithoutBaseBackupDeletesNothing(t *testing.T) {
	e, st := newEngine(t)
	putWAL(t, st, walFiles...)
	c, err := backup.Scan(t.Context(), st)
	must(t, err)
	p := backup.Plan(c, backup.Policy{}, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	must(t, e.PlanWAL(t.Context(), c, p))
	if p.WAL.Files != 0 || p.WAL.KeptBy != backup.WALKeptByNoBase || p.WAL.Kept != len(walFiles) {
		t.Fatalf("plan: %+v", p.WAL)
	}
	_, err = e.Apply(t.Context(), p)
	must(t, err)
	if got := walLeft(t, st); len(strings.Fields(got)) != len(walFiles) {
		t.Errorf("left: %s", got)
	}
}
