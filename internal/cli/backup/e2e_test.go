package backup_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCreateListVerifyRestorePrune(t *testing.T) {
	p := newProject(t, "")
	p.exec(p.url, seedSQL)

	r := p.mustRun("backup", "create", "--label", "first")
	id := strings.TrimSpace(r.out)
	if !strings.Contains(r.err, "2 tables, 900 rows") {
		t.Errorf("create summary: %q", r.err)
	}
	l := p.list()
	if len(l.Backups) != 1 || l.Backups[0].ID != id || l.Backups[0].Verification != nil || len(l.Backups[0].SHA256) != 64 {
		t.Fatalf("list after create: %+v", l)
	}

	r = p.mustRun("backup", "verify", "latest")
	if r.out != "" || r.err != "" {
		t.Errorf("verify is not silent on success (cron):\nstdout: %q\nstderr: %q", r.out, r.err)
	}
	l = p.list()
	if v := l.Backups[0].Verification; v == nil || v.Level != "restore" || !v.OK {
		t.Fatalf("list does not show the verification: %+v", v)
	}
	if n := scalar(t, p.url, "SELECT count(*) FROM pg_database WHERE datname LIKE 'deployctl_verify_%'"); n != 0 {
		t.Errorf("%d scratch databases left behind", n)
	}

	target := pg.NewDatabase(t)
	p.mustRun("backup", "restore", id, "--target-url", target, "--yes")
	if n := scalar(t, target, "SELECT count(*) FROM orders"); n != 600 {
		t.Errorf("restored orders: %d", n)
	}
	r = p.run("backup", "restore", id, "--target-url", target, "--yes")
	if r.code != 1 || !strings.Contains(r.err, "not empty") || !strings.Contains(r.err, "--clean") {
		t.Errorf("restore into a non-empty target: exit %d, %s", r.code, r.err)
	}
	p.exec(target, "DELETE FROM orders WHERE id > 10")
	p.mustRun("backup", "restore", id, "--target-url", target, "--clean", "--yes")
	if n := scalar(t, target, "SELECT count(*) FROM orders"); n != 600 {
		t.Errorf("after --clean restore, orders: %d", n)
	}

	r = p.run("backup", "restore", id, "--clean")
	if r.code != 2 || !strings.Contains(r.err, "restore backup "+id) || !strings.Contains(r.err, "pass --yes") {
		t.Errorf("restore into the environment's database without --yes and without a terminal: exit %d, want 2 naming the action: %s", r.code, r.err)
	}

	second := strings.TrimSpace(p.mustRun("backup", "create").out)
	// `backup restore <TAB>` completes latest and the ids, newest first
	if c := p.mustRun("__complete", "backup", "restore", "").out; !strings.HasPrefix(c, "latest\t") || !strings.Contains(c, "\n"+second+"\t") ||
		strings.Index(c, second) > strings.Index(c, id) {
		t.Errorf("completion of backup restore:\n%s", c)
	}
	r = p.mustRun("backup", "prune", "--keep-daily", "0", "--keep-weekly", "0", "--keep-monthly", "0")
	if !strings.Contains(r.out, second) || !strings.Contains(r.out, "newest backup") || !strings.Contains(r.out, "newest verified backup") {
		t.Errorf("prune plan:\n%s", r.out)
	}
	if len(p.list().Backups) != 2 {
		t.Fatal("prune without --apply deleted something")
	}
	third := strings.TrimSpace(p.mustRun("backup", "create").out)
	// without a terminal, --apply refuses and says what and how (finding 3
	// of the operator-experience issue); nothing is deleted
	r = p.run("backup", "prune", "--keep-daily", "1", "--apply")
	if r.code != 2 || !strings.Contains(r.err, "delete 1 backup(s) and 0 incomplete folder(s) in") || !strings.Contains(r.err, "pass --yes") {
		t.Errorf("prune --apply without a terminal: exit %d, %s", r.code, r.err)
	}
	if len(p.list().Backups) != 3 {
		t.Fatal("a refused prune deleted something")
	}
	r = p.mustRun("backup", "prune", "--keep-daily", "1", "--apply", "--yes", "-o", "json")
	var pr struct {
		Applied bool
		Backups []struct {
			ID      string
			Keep    bool
			Reasons []string
		}
	}
	must(t, json.Unmarshal([]byte(r.out), &pr))
	if !pr.Applied || len(pr.Backups) != 3 || !pr.Backups[0].Keep || pr.Backups[1].Keep || !pr.Backups[2].Keep {
		t.Errorf("prune keeping the newest and the newest verified: %+v", pr)
	}
	l = p.list()
	if len(l.Backups) != 2 || l.Backups[0].ID != third || l.Backups[1].ID != id {
		t.Errorf("after prune --apply: %+v", l)
	}
	entries, _ := os.ReadDir(filepath.Join(p.dir, "backups"))
	if len(entries) != 2 {
		t.Errorf("the backups folder holds %d entries after prune, want 2", len(entries))
	}
}

// A backup folder that is not there (an unmounted volume) is not an empty
// store: verify exits 4 saying so, list warns (finding 5 of the
// operator-experience issue: it said "there is no backup at all", exit 1).
func TestMissingBackupFolderIsNotEmpty(t *testing.T) {
	p := newProject(t, "")
	p.env = append(p.env, "DEPLOYCTL_BACKUP_STORAGE_PATH="+filepath.Join(t.TempDir(), "not-mounted"))
	r := p.run("backup", "verify", "latest", "--max-age", "26h")
	if r.code != 4 || !strings.Contains(r.err, "not-mounted: it does not exist") {
		t.Fatalf("verify: exit %d, want 4: %s", r.code, r.err)
	}
	if r := p.run("backup", "list"); r.code != 0 || !strings.Contains(r.err, "warning: cannot reach the backup folder") {
		t.Fatalf("list: exit %d: %s", r.code, r.err)
	}
}
