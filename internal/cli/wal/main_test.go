package wal_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deployctl/deployctl/internal/testbin"
	"github.com/deployctl/deployctl/internal/testkit"
	"github.com/deployctl/deployctl/pkg/postgres/pgtest"
)

var bin string

func TestMain(m *testing.M) {
	if why := pgtest.Available(); why != "" {
		if os.Getenv("CI") != "" {
			fmt.Fprintln(os.Stderr, "FAIL: PostgreSQL needed:", why)
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "SKIP (developer machine only): PostgreSQL needed:", why)
		os.Exit(0)
	}
	os.Exit(testbin.Main(func(b *testbin.Built) int {
		bin = b.Path("deployctl")
		// PostgreSQL runs archive_command as the postgres user
		if err := os.Chmod(b.Dir, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL:", err)
			return 1
		}
		return m.Run()
	}, "deployctl"))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// site is a folder owned by the postgres user with a deployctl project
// (environments/, the --config-dir) whose backup storage is the folder store/.
type site struct {
	root, config, store string
	uid, gid            int
}

func newSite(t *testing.T) *site {
	t.Helper()
	u, err := user.Lookup("postgres")
	must(t, err)
	root, err := os.MkdirTemp("", "walsite") // t.TempDir's parent is private to root
	must(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(root) })
	s := &site{root: root}
	s.uid, _ = strconv.Atoi(u.Uid)
	s.gid, _ = strconv.Atoi(u.Gid)
	s.config, s.store = filepath.Join(s.root, "environments"), filepath.Join(s.root, "store")
	testkit.WriteFiles(t, s.config, map[string]string{
		"development.yaml": "backup:\n  storage: {provider: file, path: " + s.store + "}\n"})
	must(t, os.Mkdir(s.store, 0o700))
	must(t, filepath.Walk(s.root, func(p string, _ os.FileInfo, err error) error {
		if err == nil {
			err = os.Chown(p, s.uid, s.gid)
		}
		return err
	}))
	must(t, os.Chmod(s.root, 0o755))
	return s
}

func (s *site) cred() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(s.uid), Gid: uint32(s.gid)}, Setpgid: true}
}

// deployctl is the command line PostgreSQL runs, with an absolute config dir.
func (s *site) deployctl(verb string) string {
	return fmt.Sprintf("%s --config-dir %s --env development wal %s", bin, s.config, verb)
}

// run runs deployctl as root in the config folder.
func (s *site) run(t *testing.T, args ...string) testbin.Result {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--config-dir", s.config, "--env", "development"}, args...)...)
	cmd.Env = testbin.OperatorEnv(t.TempDir())
	return testbin.Run(t, cmd)
}

// pgRun runs a PostgreSQL tool as the postgres user.
func (s *site) pgRun(t *testing.T, tool string, args ...string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(pgtest.BinDir, tool), args...)
	cmd.SysProcAttr = s.cred()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v: %s", tool, args, err, out)
	}
}

// server is a PostgreSQL started by a test on a data folder of its own.
type server struct {
	dir, log string
	port     int
	done     chan struct{}
	cmd      *exec.Cmd
}

func (s *server) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
}

func (st *site) start(t *testing.T, dir string, settings ...string) *server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	s := &server{dir: dir, log: dir + ".log", port: l.Addr().(*net.TCPAddr).Port, done: make(chan struct{})}
	l.Close()
	args := []string{"-D", dir, "-p", strconv.Itoa(s.port), "-k", st.root, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
		"-c", "wal_level=replica", "-c", "max_wal_senders=5"}
	for _, kv := range settings {
		args = append(args, "-c", kv)
	}
	logf, err := os.Create(s.log)
	must(t, err)
	_ = os.Chown(s.log, st.uid, st.gid)
	s.cmd = exec.Command(filepath.Join(pgtest.BinDir, "postgres"), args...)
	s.cmd.SysProcAttr, s.cmd.Stdout, s.cmd.Stderr = st.cred(), logf, logf
	must(t, s.cmd.Start())
	go func() { _ = s.cmd.Wait(); logf.Close(); close(s.done) }()
	t.Cleanup(s.stop)
	testkit.WaitFor(t, "postgres on "+dir+" takes connections", 60*time.Second, func() bool {
		select {
		case <-s.done:
			raw, _ := os.ReadFile(s.log)
			t.Fatalf("postgres on %s exited: %s", dir, raw)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, s.url())
		if err == nil {
			conn.Close(ctx)
		}
		return err == nil
	})
	return s
}

// stop shuts the server down (fast) and waits for it.
func (s *server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

func (s *server) exec(t *testing.T, sql string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), s.url())
	must(t, err)
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func (s *server) text(t *testing.T, q string) string {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), s.url())
	must(t, err)
	defer conn.Close(context.Background())
	var v string
	must(t, conn.QueryRow(t.Context(), q).Scan(&v))
	return v
}

// switchAndWait closes the current segment and waits until the archiver
// has archived it.
func (s *server) switchAndWait(t *testing.T) string {
	t.Helper()
	seg := s.text(t, "SELECT pg_walfile_name(pg_switch_wal())")
	testkit.WaitFor(t, "segment "+seg+" archived", 60*time.Second, func() bool {
		return s.text(t, "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver") >= seg
	})
	return seg
}

func (s *server) logText() string {
	raw, _ := os.ReadFile(s.log)
	return string(raw)
}
