package backup_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/backup"
	"github.com/deployctl/deployctl/pkg/backup/pitrtest"
)

func mustBase(t *testing.T, e *backup.Engine, url string) *backup.Manifest {
	t.Helper()
	m, err := e.CreateBase(t.Context(), backup.BaseOptions{DatabaseURL: url, Label: "base"})
	if err != nil {
		t.Fatalf("create base: %v", err)
	}
	return m
}

// A base backup's manifest holds the WAL range, the server and a checksum
// per stored object, and PostgreSQL's own backup_manifest is stored beside
// the tar; list tells it from a logical backup.
func TestCreateBaseManifest(t *testing.T) {
	url := pg.NewDatabase(t)
	seed(t, url, 200)
	e, st := newEngine(t)
	logical := mustCreate(t, e, url)
	later := logical.CreatedAt.Add(time.Hour)
	e.Now = func() time.Time { return later }
	m := mustBase(t, e, url)
	b := m.Base
	if m.Type != backup.TypeBase || b == nil {
		t.Fatalf("manifest type %q, base %+v", m.Type, b)
	}
	start, err1 := backup.ParseLSN(b.StartLSN)
	stop, err2 := backup.ParseLSN(b.StopLSN)
	if err1 != nil || err2 != nil || stop < start || b.Timeline != 1 || len(b.StartWAL) != 24 {
		t.Errorf("WAL range: %+v", b)
	}
	sysid, err := queryInt(t.Context(), url, "SELECT system_identifier FROM pg_control_system()")
	must(t, err)
	if b.SystemIdentifier == "" || b.SystemIdentifier != jsonInt(sysid) {
		t.Errorf("system identifier %q, server says %d", b.SystemIdentifier, sysid)
	}
	if b.StartTime.IsZero() || b.StopTime.Before(b.StartTime) || !strings.HasPrefix(m.ServerVersion, "15") {
		t.Errorf("times %s..%s, version %q", b.StartTime, b.StopTime, m.ServerVersion)
	}
	if len(b.Files) != 2 || b.Files[0].Object != m.ID+"/base.tar.zst" || b.Files[1].Object != m.ID+"/backup_manifest.zst" {
		t.Fatalf("files %+v", b.Files)
	}
	for _, f := range b.Files {
		objs, err := st.List(t.Context(), f.Object)
		if err != nil || len(objs) != 1 || objs[0].Size != f.SizeBytes || len(f.SHA256) != 64 {
			t.Errorf("%s: stored %+v (%v), manifest %+v", f.Object, objs, err, f)
		}
	}
	if b.PgManifest == nil || b.PgManifest.Files < 100 || b.PgManifest.Checksum == "" {
		t.Errorf("backup_manifest: %+v", b.PgManifest)
	}
	list, err := backup.List(t.Context(), st)
	must(t, err)
	if len(list) != 2 || list[0].ID != m.ID || list[0].Summary().Type != "base" || list[1].ID != logical.ID || list[1].Summary().Type != "logical" {
		t.Fatalf("list: %+v", list)
	}
	if err := backup.CheckManifest(&list[0]); err != nil {
		t.Error(err)
	}
	raw, _ := json.Marshal(list[0].Summary())
	if !strings.Contains(string(raw), `"type":"base"`) {
		t.Errorf("summary JSON lacks the type: %s", raw)
	}
}

func jsonInt(n int64) string { raw, _ := json.Marshal(n); return string(raw) }

// verify --type base at level restore extracts the backup, runs
// pg_verifybackup, starts a scratch PostgreSQL that recovers it and checks
// the LSN it reached; the scratch folder is gone afterwards, and the
// verification is stored where list and prune see it.
func TestVerifyBaseRecoversToStopLSN(t *testing.T) {
	url := pg.NewDatabase(t)
	seed(t, url, 300)
	e, st := newEngine(t)
	m := mustBase(t, e, url)
	tmp := pitrtest.TempDir(t)
	res, err := e.Verify(t.Context(), m, backup.VerifyOptions{Level: backup.LevelRestore, TempDir: tmp})
	if err != nil || !res.Verification.OK {
		t.Fatalf("verify: %+v, %v", res, err)
	}
	reached, err1 := backup.ParseLSN(res.Reached)
	stop, err2 := backup.ParseLSN(m.Base.StopLSN)
	if err1 != nil || err2 != nil || reached < stop {
		t.Errorf("reached %q, stop %s", res.Reached, m.Base.StopLSN)
	}
	if !strings.Contains(res.Verification.Detail, "pg_verifybackup") || res.Verification.Level != backup.LevelRestore {
		t.Errorf("verification: %+v", res.Verification)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("verify left %v in its temporary folder", left)
	}
	list, _ := backup.List(t.Context(), st)
	if v := list[0].Verification; v == nil || !v.OK || v.Level != backup.LevelRestore {
		t.Errorf("list shows %+v", v)
	}
	if plan := backup.Plan(&backup.Catalog{Backups: list}, backup.Policy{}, time.Now()); !plan.Backups[0].Keep {
		t.Errorf("prune would delete the only restore-verified base backup: %+v", plan.Backups[0])
	}

	flip(0.5)(t, st.Dir, m)
	res, err = e.Verify(t.Context(), m, backup.VerifyOptions{Level: backup.LevelRestore, TempDir: tmp})
	if err != nil || res.Verification.OK || !strings.Contains(strings.Join(res.Problems, "\n"), "corrupted") {
		t.Fatalf("verify of a corrupted base backup: %+v, %v", res, err)
	}
}

// Prune never deletes the newest restore-verified base backup, nor the
// newest base backup, however many newer logical backups are verified.
func TestPlanKeepsNewestVerifiedBase(t *testing.T) {
	c := catalog("2026-11-25T03:00:00Z", "2026-11-24T03:00:00Z", "2026-11-23T03:00:00Z", "2026-11-22T03:00:00Z", "2026-11-21T03:00:00Z")
	c.Backups[0].Verification = &backup.Verification{Level: backup.LevelRestore, OK: true} // logical
	c.Backups[1].Type = backup.TypeBase                                                    // newest base, not verified
	c.Backups[2].Type = backup.TypeBase
	c.Backups[2].Verification = &backup.Verification{Level: backup.LevelChecksum, OK: true}
	c.Backups[3].Type = backup.TypeBase
	c.Backups[3].Verification = &backup.Verification{Level: backup.LevelRestore, OK: true}
	c.Backups[4].Type = backup.TypeBase
	c.Backups[4].Verification = &backup.Verification{Level: backup.LevelRestore, OK: true}
	p := backup.Plan(c, backup.Policy{}, time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC))
	if got := decisions(p); got != "+20261125 +20261124 -20261123 +20261122 -20261121" {
		t.Errorf("plan: %s", got)
	}
	if r := strings.Join(p.Backups[3].KeptBy, ","); r != backup.KeptByVerifiedBase {
		t.Errorf("the verified base backup is kept by %q", r)
	}
}

// The WAL archive lives in the same store under wal/ (pkg/wal): it is not
// a backup folder, so list ignores it and prune never deletes it.
func TestScanSkipsTheWALArchive(t *testing.T) {
	e, st := newEngine(t)
	must(t, st.Put(t.Context(), "wal/00000001/000000010000000000000003.16777216.ab.zst", strings.NewReader("segment")))
	c, err := backup.Scan(t.Context(), st)
	must(t, err)
	if len(c.Orphans) != 0 || len(c.Backups) != 0 || len(c.Broken) != 0 {
		t.Fatalf("the WAL archive is taken for a backup folder: %+v", c)
	}
	_, err = e.Apply(t.Context(), backup.Plan(c, backup.Policy{}, time.Now().Add(100*24*time.Hour)))
	must(t, err)
	if objs, _ := st.List(t.Context(), "wal/"); len(objs) != 1 {
		t.Errorf("prune deleted the WAL archive: %v", objs)
	}
}
