package wal_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/internal/testkit"
)

// TestVerifyAndStatusSeeGapsAndFailures: a failing store shows up in
// status as the archiver's failures (and PostgreSQL catches up once it is
// back); a segment missing from the archive and a stale archive fail
// verify with one line each.
func TestVerifyAndStatusSeeGapsAndFailures(t *testing.T) {
	s := newSite(t)
	dir := filepath.Join(s.root, "primary")
	s.pgRun(t, "initdb", "-D", dir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	pg := s.start(t, dir, append(s.archiving(), "archive_timeout=60s")...)
	pg.exec(t, "CREATE TABLE t (n int)")
	var segs []string
	for range 3 {
		pg.exec(t, "INSERT INTO t SELECT generate_series(1, 100)")
		segs = append(segs, pg.switchAndWait(t))
	}

	tl1 := filepath.Join(s.store, "wal", "00000001")
	must(t, os.Chmod(tl1, 0o500)) // wal push cannot write: exit 4, PostgreSQL retries
	pg.exec(t, "INSERT INTO t VALUES (1)")
	failed := pg.text(t, "SELECT pg_walfile_name(pg_switch_wal())")
	testkit.WaitFor(t, "the archiver reports a failure", 60*time.Second, func() bool {
		return pg.text(t, "SELECT coalesce(last_failed_wal, '') FROM pg_stat_archiver") == failed
	})
	r := s.run(t, "wal", "status", "--database-url", pg.url())
	if r.Code != 0 || !strings.Contains(r.Stdout, "last failure "+failed) || !strings.Contains(r.Stderr, "the archiver's last attempt failed: "+failed) ||
		!strings.Contains(r.Stdout, "archive_timeout 1m") || !strings.Contains(r.Stdout, "recovery point: ") {
		t.Errorf("status while the store fails: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	if !strings.Contains(pg.logText(), "cannot reach the folder "+s.store) {
		t.Errorf("the server log does not name the store:\n%s", pg.logText())
	}
	must(t, os.Chmod(tl1, 0o700))
	testkit.WaitFor(t, "the archiver catches up", 120*time.Second, func() bool {
		return pg.text(t, "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver") == failed
	})
	if r := s.run(t, "wal", "verify"); r.Code != 0 {
		t.Fatalf("verify after catching up: exit %d: %s", r.Code, r.Stderr)
	}

	objs, err := filepath.Glob(filepath.Join(s.store, "wal", "00000001", segs[1]+".*"))
	must(t, err)
	if len(objs) != 1 {
		t.Fatalf("want one object for %s, got %v", segs[1], objs)
	}
	must(t, os.Remove(objs[0]))
	r = s.run(t, "wal", "verify", "--max-age", "1ms")
	lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
	if r.Code != 1 || r.Stdout != "" || len(lines) != 2 || !strings.Contains(lines[0], "segment "+segs[1]+" is missing") || !strings.Contains(lines[1], "more than --max-age 1ms") {
		t.Errorf("verify with a gap and a stale archive: exit %d, want 1 and two lines\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	r = s.run(t, "wal", "verify", "-o", "json")
	if r.Code != 1 || !strings.Contains(r.Stdout, `"from": "`+segs[0]+`"`) || !strings.Contains(r.Stdout, `"missing": 1`) {
		t.Errorf("verify -o json: exit %d\n%s", r.Code, r.Stdout)
	}
}
