package wal_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deployctl/deployctl/internal/testbin"
	"github.com/deployctl/deployctl/internal/testkit"
)

// readyWAL is a pg_wal folder under the site with n segments of size bytes
// that PostgreSQL marked ready.
func readyWAL(t *testing.T, s *site, n, size int) (names []string, data map[string][]byte) {
	t.Helper()
	dir := filepath.Join(s.root, "pg_wal")
	must(t, os.MkdirAll(filepath.Join(dir, "archive_status"), 0o700))
	data = map[string][]byte{}
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("0000000100000000000000%02X", i)
		d := bytes.Repeat([]byte("wal record "), size/11+1)[:size]
		_, _ = rand.Read(d[:4096])
		must(t, os.WriteFile(filepath.Join(dir, name), d, 0o600))
		must(t, os.WriteFile(filepath.Join(dir, "archive_status", name+".ready"), nil, 0o600))
		names, data[name] = append(names, name), d
	}
	return names, data
}

// archiver runs wal push as PostgreSQL's archiver does: in the data folder
// (here the site), for each ready file in turn, marking it done.
func (s *site) archiver(t *testing.T, home string, names ...string) {
	t.Helper()
	for _, n := range names {
		r := s.runIn(t, s.root, home, "wal", "push", "pg_wal/"+n)
		if r.Code != 0 {
			t.Fatalf("wal push pg_wal/%s: exit %d\n%s", n, r.Code, r.Stderr)
		}
		st := filepath.Join(s.root, "pg_wal", "archive_status", n)
		must(t, os.Rename(st+".ready", st+".done"))
	}
}

func (s *site) runIn(t *testing.T, dir, home string, args ...string) testbin.Result {
	t.Helper()
	cmd := execDeployctl(s, args...)
	cmd.Dir, cmd.Env = dir, testbin.OperatorEnv(home)
	return testbin.Run(t, cmd)
}

// spoolOf is the default spool folder of a user whose HOME is home.
func spoolOf(home string) string { return filepath.Join(home, ".cache", "deployctl", "wal-spool") }

// backgroundDone waits until no push runs in the background for the
// spool folder of the user whose HOME is home (its lock is free).
func backgroundDone(t *testing.T, home string) { t.Helper(); spoolDone(t, spoolOf(home)) }

func spoolDone(t *testing.T, spool string) {
	t.Helper()
	locks, _ := filepath.Glob(filepath.Join(spool, "*", "push.lock"))
	for _, l := range locks {
		f, err := os.Open(l)
		must(t, err)
		testkit.WaitFor(t, "the push in the background to end", 60*time.Second, func() bool {
			if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
				return false
			}
			_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
			return true
		})
		f.Close()
	}
}

func markers(t *testing.T, home string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(spoolOf(home), "*", "*.ok"))
	return m
}

func (s *site) fetchAll(t *testing.T, home string, data map[string][]byte) {
	t.Helper()
	for name, want := range data {
		dest := filepath.Join(t.TempDir(), "RECOVERYXLOG")
		if r := s.runIn(t, s.root, home, "wal", "fetch", name, dest); r.Code != 0 {
			t.Fatalf("wal fetch %s: exit %d\n%s", name, r.Code, r.Stderr)
		}
		got, err := os.ReadFile(dest)
		must(t, err)
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: fetched %d bytes, not what was pushed", name, len(got))
		}
	}
}

// One push as the archiver runs it returns once its own file is archived;
// a process in the background archives the files ready after it and
// leaves markers, which the archiver's next pushes consume; everything
// fetches back whole, and nothing is left running or marked.
func TestE2EPushArchivesAheadInTheBackground(t *testing.T) {
	s := newSite(t)
	home := t.TempDir()
	names, data := readyWAL(t, s, 20, 1<<20)
	s.archiver(t, home, names[0])
	testkit.WaitFor(t, "the process in the background to archive the 19 segments ready after the first", 60*time.Second, func() bool {
		objs, _ := filepath.Glob(filepath.Join(s.store, "wal", "00000001", "*.zst"))
		return len(objs) == len(names)
	})
	backgroundDone(t, home)
	if m := markers(t, home); len(m) != len(names)-1 {
		t.Fatalf("%d markers for the %d segments archived ahead", len(m), len(names)-1)
	}
	s.archiver(t, home, names[1:]...)
	backgroundDone(t, home)
	if m := markers(t, home); len(m) != 0 {
		t.Errorf("markers left after the archiver asked for every file: %v", m)
	}
	s.fetchAll(t, home, data)
}

// The process in the background killed with SIGKILL in the middle: the
// archiver's pushes archive what it did not, nothing in the archive is
// torn, and every segment fetches back whole.
func TestE2EPushAheadKilledInTheMiddle(t *testing.T) {
	s := newSite(t)
	home := t.TempDir()
	names, data := readyWAL(t, s, 40, 4<<20)
	s.archiver(t, home, names[0])
	killed := false
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !killed; time.Sleep(time.Millisecond) {
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range procs {
			raw, err := os.ReadFile(p)
			if err != nil || !strings.Contains(string(raw), "--background") || !strings.Contains(string(raw), s.config) {
				continue
			}
			var pid int
			fmt.Sscanf(strings.Split(p, "/")[2], "%d", &pid)
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				killed = true
			}
		}
	}
	if !killed {
		t.Fatal("no push ran in the background after the first push (40 segments were ready)")
	}
	backgroundDone(t, home)
	objs, _ := filepath.Glob(filepath.Join(s.store, "wal", "00000001", "*.zst"))
	if len(objs) == len(names) {
		t.Logf("the process in the background had archived every segment before it was killed")
	}
	s.archiver(t, home, names[1:]...)
	backgroundDone(t, home)
	s.fetchAll(t, home, data)
}

func execDeployctl(s *site, args ...string) *exec.Cmd {
	return exec.Command(bin, append([]string{"--config-dir", s.config, "--env", "development"}, args...)...)
}

// A real PostgreSQL with a backlog (archiving paused while 16 segments were
// switched, as after an outage of the store) drains it through wal push and
// its process in the background: every segment archived, no failure, the
// background path taken (its lock exists), no marker left, no gap.
func TestE2EBacklogDrainedByPostgreSQL(t *testing.T) {
	s := newSite(t)
	spool := filepath.Join(s.root, "spool")
	must(t, os.Mkdir(spool, 0o700))
	must(t, os.Chown(spool, s.uid, s.gid))
	testkit.WriteFiles(t, s.config, map[string]string{
		"development.yaml": "backup:\n  storage: {provider: file, path: " + s.store + "}\n  wal: {spool: " + spool + "}\n"})
	dir := filepath.Join(s.root, "pg")
	s.pgRun(t, "initdb", "-D", dir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	pg := s.start(t, dir, "archive_mode=on") // archive_command unset: archiving paused
	pg.exec(t, "CREATE TABLE t (x int)")
	for i := 0; i < 16; i++ {
		pg.exec(t, "INSERT INTO t VALUES (1); SELECT pg_switch_wal()")
	}
	ready, _ := filepath.Glob(filepath.Join(dir, "pg_wal", "archive_status", "*.ready"))
	if len(ready) < 16 {
		t.Fatalf("%d segments ready with archiving paused, want 16 or more", len(ready))
	}
	pg.exec(t, "ALTER SYSTEM SET archive_command = '"+s.deployctl("push %p")+"'")
	pg.exec(t, "SELECT pg_reload_conf()")
	testkit.WaitFor(t, "the backlog archived", 120*time.Second, func() bool {
		left, _ := filepath.Glob(filepath.Join(dir, "pg_wal", "archive_status", "*.ready"))
		return len(left) == 0
	})
	spoolDone(t, spool)
	if failed := pg.text(t, "SELECT failed_count::text FROM pg_stat_archiver"); failed != "0" {
		t.Errorf("pg_stat_archiver failed_count %s, want 0\n%s", failed, pg.logText())
	}
	if locks, _ := filepath.Glob(filepath.Join(spool, "*", "push.lock")); len(locks) != 1 {
		t.Errorf("no push ran in the background (spool %s: %v)", spool, locks)
	}
	// a marker may be left only for a file the archiver pushed itself while
	// the background was at it too (harmless: swept after an hour); never
	// for one it has yet to ask for
	m, _ := filepath.Glob(filepath.Join(spool, "*", "*.ok"))
	for _, ok := range m {
		name := strings.TrimSuffix(filepath.Base(ok), ".ok")
		if _, err := os.Stat(filepath.Join(dir, "pg_wal", "archive_status", name+".done")); err != nil {
			t.Errorf("a marker is left for %s, which PostgreSQL has not archived", name)
		}
	}
	if len(m) > 2 {
		t.Errorf("%d markers left after the archiver asked for every file: the markers were not used: %v", len(m), m)
	}
	objs, _ := filepath.Glob(filepath.Join(s.store, "wal", "00000001", "*.zst"))
	if len(objs) < len(ready) {
		t.Errorf("%d segments in the store, %d were ready", len(objs), len(ready))
	}
	if r := s.run(t, "wal", "verify", "--max-age", "1h"); r.Code != 0 || r.Stdout+r.Stderr != "" {
		t.Fatalf("verify after the backlog: exit %d, want 0 and silence:\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
}
