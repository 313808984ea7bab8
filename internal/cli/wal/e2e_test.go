package wal_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/deployctl/deployctl/internal/testkit"
	"github.com/deployctl/deployctl/pkg/wal"
)

// archiving returns the settings that archive with deployctl wal push.
func (s *site) archiving() []string {
	return []string{"archive_mode=on", "archive_command=" + s.deployctl("push %p"), "restore_command=" + s.deployctl("fetch %f %p")}
}

// TestArchiveAcrossPromotion runs the whole story on real servers: a primary
// archives with wal push; a streaming standby is promoted (timeline 2, a
// .partial segment, a history file) and archives to the same store; a copy
// of an early base backup then recovers with wal fetch across the switch
// to the rows written after it; status and verify see both timelines.
func TestArchiveAcrossPromotion(t *testing.T) {
	s := newSite(t)
	primaryDir, standbyDir, copyDir := filepath.Join(s.root, "primary"), filepath.Join(s.root, "standby"), filepath.Join(s.root, "copy")
	s.pgRun(t, "initdb", "-D", primaryDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	primary := s.start(t, primaryDir, s.archiving()...)
	primary.exec(t, "CREATE TABLE notes (id serial PRIMARY KEY, note text); INSERT INTO notes (note) VALUES ('before base')")
	primary.switchAndWait(t)
	s.pgRun(t, "pg_basebackup", "-D", copyDir, "-h", "127.0.0.1", "-p", itoa(primary.port), "-U", "postgres", "-X", "fetch", "--no-sync")
	s.pgRun(t, "pg_basebackup", "-D", standbyDir, "-h", "127.0.0.1", "-p", itoa(primary.port), "-U", "postgres", "-X", "stream", "-R", "--no-sync")
	standby := s.start(t, standbyDir, s.archiving()...)
	primary.exec(t, "INSERT INTO notes (note) SELECT 'on timeline 1' FROM generate_series(1, 1000)")
	primary.switchAndWait(t)
	primary.exec(t, "INSERT INTO notes (note) VALUES ('streamed only')") // in the open segment: becomes the .partial
	want := primary.text(t, "SELECT pg_current_wal_lsn()::text")
	testkit.WaitFor(t, "standby replays "+want, 60*time.Second, func() bool {
		return standby.text(t, "SELECT (pg_last_wal_replay_lsn() >= '"+want+"')::text") == "true"
	})
	primary.stop()
	standby.exec(t, "SELECT pg_promote()")
	testkit.WaitFor(t, "standby promoted", 60*time.Second, func() bool { return standby.text(t, "SELECT pg_is_in_recovery()::text") == "false" })
	standby.exec(t, "INSERT INTO notes (note) VALUES ('on timeline 2')")
	newest := standby.switchAndWait(t)

	st := status(t, s)
	if len(st.Timelines) != 2 || !st.Timelines[1].History || len(st.Timelines[0].Partial) != 1 || st.Newest == nil || st.Newest.Name != newest {
		t.Fatalf("status: want timelines 1 (with a .partial) and 2 (with its history), newest %s; got %+v", newest, st)
	}
	if len(st.Problems) != 0 {
		t.Errorf("status problems on a complete archive: %v", st.Problems)
	}
	if r := s.run(t, "wal", "verify", "--max-age", "1h"); r.Code != 0 || r.Stdout+r.Stderr != "" {
		t.Fatalf("verify on a complete archive: exit %d, want 0 and silence:\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	checkFetchedLikeServer(t, s, standbyDir, "00000002.history")

	// PostgreSQL asks for files that do not exist: exit 1, no message
	if r := s.run(t, "wal", "fetch", "00000009.history", filepath.Join(t.TempDir(), "x")); r.Code != 1 || r.Stderr != "" {
		t.Errorf("fetch of a missing file: exit %d, stderr %q; want 1 and nothing", r.Code, r.Stderr)
	}

	// a restore from the early base backup follows timeline 2 with wal fetch
	must(t, os.WriteFile(filepath.Join(copyDir, "recovery.signal"), nil, 0o600))
	must(t, os.Chown(filepath.Join(copyDir, "recovery.signal"), s.uid, s.gid))
	restored := s.start(t, copyDir, "restore_command="+s.deployctl("fetch %f %p"), "recovery_target_timeline=latest")
	testkit.WaitFor(t, "the copy recovers to the end of the archive", 120*time.Second, func() bool {
		return restored.text(t, "SELECT pg_is_in_recovery()::text") == "false"
	})
	if got := restored.text(t, "SELECT string_agg(DISTINCT note, ',' ORDER BY note) FROM notes"); got != "before base,on timeline 1,on timeline 2,streamed only" {
		t.Errorf("the restored copy holds %q, want every note of both timelines\n%s", got, restored.logText())
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func status(t *testing.T, s *site) wal.Status {
	t.Helper()
	r := s.run(t, "wal", "status", "-o", "json", "--database-url", "postgres://nobody@127.0.0.1:1/x")
	if r.Code != 0 {
		t.Fatalf("wal status: exit %d: %s", r.Code, r.Stderr)
	}
	var st wal.Status
	must(t, json.Unmarshal([]byte(r.Stdout), &st))
	return st
}

// checkFetchedLikeServer fetches name and compares it with the server's own copy.
func checkFetchedLikeServer(t *testing.T, s *site, dataDir, name string) {
	t.Helper()
	dest := filepath.Join(t.TempDir(), name)
	if r := s.run(t, "wal", "fetch", name, dest); r.Code != 0 {
		t.Fatalf("fetch %s: exit %d: %s", name, r.Code, r.Stderr)
	}
	got, err := os.ReadFile(dest)
	must(t, err)
	orig, err := os.ReadFile(filepath.Join(dataDir, "pg_wal", name))
	must(t, err)
	if !bytes.Equal(got, orig) {
		t.Errorf("fetched %s differs from the server's", name)
	}
}
