// Package pitrtest starts PostgreSQL servers on data folders of a test's
// own, for the tests of base backups and point-in-time restore: a cluster
// that archives its WAL with a command of the test's choosing, and the
// servers the tests start on restored folders. The tests run as root, so
// the servers run as the postgres OS user, as pgtest's do.
package pitrtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deployctl/deployctl/pkg/postgres/pgtest"
)

// Server is a PostgreSQL a test started on a data folder.
type Server struct {
	Dir  string
	Port int
	Log  string
	cmd  *exec.Cmd
}

// URL connects as the postgres superuser (trust on 127.0.0.1).
func (s *Server) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.Port)
}

// Postgres returns the credentials of the postgres OS user.
func Postgres(t testing.TB) (attr *syscall.SysProcAttr, uid, gid int) {
	t.Helper()
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, Setpgid: true}, uid, gid
}

// TempDir is a temporary folder owned by the postgres user that it can
// reach (t.TempDir's parents are private to root), removed at cleanup.
func TempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pitrtest")
	check(t, err)
	check(t, os.Chmod(dir, 0o755))
	_, uid, gid := Postgres(t)
	check(t, os.Chown(dir, uid, gid))
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func check(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Start starts postgres on dir (owned by the postgres user) with settings
// ("name=value") and waits until it takes connections and, when promoted,
// has ended recovery. It is stopped when the test ends.
func Start(t testing.TB, dir string, promoted bool, settings ...string) *Server {
	t.Helper()
	attr, uid, gid := Postgres(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(t, err)
	s := &Server{Dir: dir, Port: l.Addr().(*net.TCPAddr).Port, Log: dir + ".log"}
	l.Close()
	sock := dir + ".sock"
	check(t, os.MkdirAll(sock, 0o700))
	check(t, os.Chown(sock, uid, gid))
	args := []string{"-D", dir, "-p", strconv.Itoa(s.Port), "-k", sock, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"}
	for _, kv := range settings {
		args = append(args, "-c", kv)
	}
	logf, err := os.Create(s.Log)
	check(t, err)
	_ = os.Chown(s.Log, uid, gid)
	s.cmd = exec.Command(filepath.Join(pgtest.BinDir, "postgres"), args...)
	s.cmd.SysProcAttr, s.cmd.Stdout, s.cmd.Stderr = attr, logf, logf
	check(t, s.cmd.Start())
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() {
		_ = s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-done:
			t.Fatalf("postgres on %s exited: %s", dir, s.ReadLog())
		default:
		}
		if s.ready(promoted) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("postgres on %s not ready within 60 s: %s", dir, s.ReadLog())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *Server) ready(promoted bool) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL())
	if err != nil {
		return false
	}
	defer conn.Close(ctx)
	var rec bool
	return conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&rec) == nil && (!promoted || !rec)
}

// ReadLog is the server's log so far.
func (s *Server) ReadLog() string {
	raw, _ := os.ReadFile(s.Log)
	return string(raw)
}

// Archiving initialises a cluster in root/source (trust authentication)
// and starts it archiving with archiveCommand (%p, %f as PostgreSQL's).
func Archiving(t testing.TB, root, archiveCommand string, settings ...string) *Server {
	t.Helper()
	attr, _, _ := Postgres(t)
	data := filepath.Join(root, "source")
	initdb := exec.Command(filepath.Join(pgtest.BinDir, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = attr
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v: %s", err, out)
	}
	return Start(t, data, false, append([]string{"wal_level=replica", "archive_mode=on", "archive_command=" + archiveCommand}, settings...)...)
}

// Exec runs sql on the database at url.
func Exec(t testing.TB, url, sql string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	check(t, err)
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// Int runs a query of one integer.
func Int(t testing.TB, url, q string) int64 {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	check(t, err)
	defer conn.Close(context.Background())
	var n int64
	check(t, conn.QueryRow(context.Background(), q).Scan(&n))
	return n
}

// Now is the server's clock.
func Now(t testing.TB, url string) time.Time {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	check(t, err)
	defer conn.Close(context.Background())
	var ts time.Time
	check(t, conn.QueryRow(context.Background(), "SELECT clock_timestamp()").Scan(&ts))
	return ts
}

// SwitchAndWait closes the current WAL segment and waits until the
// archiver has archived it (failing with the server's log after 60 s).
func (s *Server) SwitchAndWait(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.URL())
	check(t, err)
	defer conn.Close(ctx)
	var seg string
	check(t, conn.QueryRow(ctx, "SELECT pg_walfile_name(pg_switch_wal())").Scan(&seg))
	deadline := time.Now().Add(60 * time.Second)
	for {
		var last string
		check(t, conn.QueryRow(ctx, "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver").Scan(&last))
		if last >= seg && !strings.Contains(last, ".") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("segment %s not archived within 60 s (last archived %q): %s", seg, last, s.ReadLog())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
