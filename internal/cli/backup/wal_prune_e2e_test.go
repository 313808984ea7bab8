package backup_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/backup/pitrtest"
)

type walPruneJSON struct {
	Applied bool
	Backups []struct {
		ID     string
		Keep   bool
		KeptBy []string `json:"kept_by"`
	}
	WAL struct {
		Archived   int
		Files      int
		Segments   int
		Bytes      int64
		Kept       int
		OldestKept string `json:"oldest_kept"`
		KeptBy     string `json:"kept_by"`
		From       string
		StartWAL   string `json:"start_wal"`
	}
}

func archivedNames(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	entries, err := os.ReadDir(dir)
	must(t, err)
	for _, e := range entries {
		out = append(out, strings.SplitN(e.Name(), ".", 2)[0])
	}
	return out
}

// The whole retention with a real server archiving with 'deployctl wal
// push': two base backups with WAL between them, 'backup prune' keeping
// only the newer one shows what WAL it would delete and deletes nothing;
// with --apply it deletes the older base backup and exactly the segments
// before the start of the kept one; 'wal verify' still passes, and a
// point-in-time restore from the kept base backup reaches its target.
func TestPruneDeletesWALBeforeTheKeptBaseBackup(t *testing.T) {
	p, src, tmp := archivingProject(t)
	url := src.URL()
	old := strings.TrimSpace(p.asPostgres("backup", "create", "--type", "base", "--database-url", url).out)
	for i := 0; i < 3; i++ {
		pitrtest.Exec(t, url, "INSERT INTO events (phase) SELECT 'between' FROM generate_series(1, 10)")
		src.SwitchAndWait(t)
	}
	kept := strings.TrimSpace(p.asPostgres("backup", "create", "--type", "base", "--database-url", url).out)
	pitrtest.Exec(t, url, "INSERT INTO events (phase) SELECT 'before' FROM generate_series(1, 40)")
	target := pitrtest.Now(t, url)
	pitrtest.Exec(t, url, "SELECT pg_sleep(0.01)")
	pitrtest.Exec(t, url, "INSERT INTO events (phase) SELECT 'after' FROM generate_series(1, 60)")
	src.SwitchAndWait(t)

	tl1 := filepath.Join(p.dir, "backups", "wal", "00000001")
	archivedBefore := archivedNames(t, tl1)
	keep0 := []string{"--keep-daily", "0", "--keep-weekly", "0", "--keep-monthly", "0"}
	dry := p.asPostgres(append([]string{"backup", "prune"}, keep0...)...)
	t.Logf("backup prune:\n%s%s", dry.out, dry.err)
	var plan walPruneJSON
	must(t, json.Unmarshal([]byte(p.asPostgres(append([]string{"backup", "prune", "-o", "json"}, keep0...)...).out), &plan))
	if len(plan.Backups) != 2 || plan.Backups[0].ID != kept || !plan.Backups[0].Keep || plan.Backups[1].ID != old || plan.Backups[1].Keep {
		t.Fatalf("plan: %+v", plan)
	}
	w := plan.WAL
	if w.KeptBy != "base-start" || w.From != kept || w.OldestKept != w.StartWAL || w.Files < 3 || w.Segments != w.Files-1 || w.Bytes <= 0 ||
		w.Archived != len(archivedBefore) || w.Kept != w.Archived-w.Files {
		// the files: the segments before the kept one's start, and the older one's .backup file
		t.Fatalf("WAL plan: %+v (archived: %v)", w, archivedBefore)
	}
	if !strings.Contains(dry.out, "WAL: would delete ") || !strings.Contains(dry.out, "kept by base-start") ||
		!strings.Contains(dry.err, "WAL file(s)") || !strings.Contains(dry.err, "nothing deleted: pass --apply") {
		t.Errorf("dry run:\n%s%s", dry.out, dry.err)
	}
	if got := archivedNames(t, tl1); len(got) != len(archivedBefore) {
		t.Fatalf("the dry run deleted WAL: %v → %v", archivedBefore, got)
	}

	applied := p.asPostgres(append([]string{"backup", "prune", "--apply", "--yes"}, keep0...)...)
	t.Logf("backup prune --apply --yes:\n%s%s", applied.out, applied.err)
	if !strings.Contains(applied.out, "WAL: deleted ") {
		t.Errorf("applied:\n%s", applied.out)
	}
	left := archivedNames(t, tl1)
	if len(left) != len(archivedBefore)-w.Files {
		t.Errorf("after --apply %d file(s) left of %d, the plan deleted %d: %v", len(left), len(archivedBefore), w.Files, left)
	}
	for _, n := range left {
		if n < w.StartWAL {
			t.Errorf("%s is before the start %s of the kept base backup and was not deleted", n, w.StartWAL)
		}
	}
	for _, n := range archivedBefore {
		if n >= w.StartWAL && !contains(left, n) {
			t.Errorf("%s, needed by the kept base backup (start %s), was deleted", n, w.StartWAL)
		}
	}
	if r := p.asPostgres("wal", "verify"); r.out != "" || r.err != "" {
		t.Errorf("wal verify after the prune: %q %q", r.out, r.err)
	}

	dir := filepath.Join(tmp, "restored")
	r := p.asPostgres("backup", "restore", "--type", "base", "--to-time", target.Format(time.RFC3339Nano), "--data-dir", dir)
	if !strings.Contains(r.err, kept) {
		t.Errorf("restore did not start from %s: %s", kept, r.err)
	}
	restored := pitrtest.Start(t, dir, true, "archive_mode=off")
	for phase, want := range map[string]int64{"old": 100, "between": 30, "before": 40, "after": 0} {
		if n := pitrtest.Int(t, restored.URL(), "SELECT count(*) FROM events WHERE phase = '"+phase+"'"); n != want {
			t.Errorf("restored to %s after the prune: %d %q rows, want %d\n%s", target.Format(time.RFC3339Nano), n, phase, want, restored.ReadLog())
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
