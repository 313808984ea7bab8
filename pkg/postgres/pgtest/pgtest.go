// Package pgtest starts throwaway PostgreSQL clusters for tests, as INFRA.md
// describes: initdb as the postgres user, a private unix socket and port,
// no fsync. Use one cluster per test package (Start in TestMain) and a fresh
// database per test (NewDatabase).
package pgtest

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
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// BinDir is where Debian installs the PostgreSQL 15 server binaries.
var BinDir = "/usr/lib/postgresql/15/bin"

// Cluster is a running throwaway PostgreSQL server.
type Cluster struct {
	Dir  string // owned by the postgres user; holds data/ and the socket
	Port int
	Host string // 127.0.0.1: reachable by TCP for tools and child processes
	cmd  *exec.Cmd
	n    atomic.Int64
}

// Available reports why a cluster cannot start here, or "" when it can.
func Available() string {
	if _, err := os.Stat(filepath.Join(BinDir, "initdb")); err != nil {
		return "PostgreSQL 15 server binaries not found in " + BinDir + " (apt-get install postgresql-15)"
	}
	if _, err := user.Lookup("postgres"); err != nil {
		return "no postgres OS user (installing postgresql-15 creates it)"
	}
	return ""
}

// Main runs a test package's tests with a cluster in *c, and returns the
// exit code. Outside CI a missing PostgreSQL skips the package loudly; in CI
// (CI=true) it fails.
//
//	var pg *pgtest.Cluster
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }
func Main(m *testing.M, c **Cluster) int {
	if why := Available(); why != "" {
		if os.Getenv("CI") != "" {
			fmt.Fprintln(os.Stderr, "FAIL: PostgreSQL needed:", why)
			return 1
		}
		fmt.Fprintln(os.Stderr, "SKIP (developer machine only): PostgreSQL needed:", why)
		return 0
	}
	cl, err := Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL: start PostgreSQL:", err)
		return 1
	}
	*c = cl
	code := m.Run()
	cl.Stop()
	return code
}

// Start initialises and starts a new cluster.
func Start() (*Cluster, error) {
	pgUser, err := user.Lookup("postgres")
	if err != nil {
		return nil, err
	}
	uid, _ := strconv.Atoi(pgUser.Uid)
	gid, _ := strconv.Atoi(pgUser.Gid)
	dir, err := os.MkdirTemp("", "pgt")
	if err != nil {
		return nil, err
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	cred := &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, Setpgid: true}
	initdb := exec.Command(filepath.Join(BinDir, "initdb"), "-D", filepath.Join(dir, "data"),
		"-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = cred
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, Port: port, Host: "127.0.0.1"}
	c.cmd = exec.Command(filepath.Join(BinDir, "postgres"), "-D", filepath.Join(dir, "data"),
		"-p", strconv.Itoa(port), "-k", dir, "-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "wal_level=replica", "-c", "max_wal_senders=5")
	c.cmd.SysProcAttr = cred
	logf, _ := os.Create(filepath.Join(dir, "server.log"))
	_ = os.Chown(logf.Name(), uid, gid)
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	if err := c.waitReady(15 * time.Second); err != nil {
		c.Stop()
		log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
		return nil, fmt.Errorf("%v: %s", err, log)
	}
	return c, nil
}

func (c *Cluster) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, c.SocketURL("postgres"))
		cancel()
		if err == nil {
			defer conn.Close(context.Background())
			_, err = conn.Exec(context.Background(), "ALTER ROLE postgres PASSWORD '"+Password+"'")
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres not ready after %s: %v", limit, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Password is the postgres superuser's password on TCP connections (local
// socket connections are trusted).
const Password = "pgtest"

// URL returns a TCP connection URL for database db as the postgres superuser.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres:%s@%s:%d/%s?sslmode=disable", Password, c.Host, c.Port, db)
}

// SocketURL returns a unix-socket URL for database db, trusted without password.
func (c *Cluster) SocketURL(db string) string {
	return fmt.Sprintf("postgres://postgres@/%s?host=%s&port=%d", db, c.Dir, c.Port)
}

// Exec runs SQL on database db.
func (c *Cluster) Exec(ctx context.Context, db, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, c.SocketURL(db))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql, args...)
	return err
}

// NewDatabase creates a fresh empty database for t, dropped at cleanup, and
// returns its URL.
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("t_%s_%d", sanitize(t.Name()), c.n.Add(1))
	ctx := context.Background()
	if err := c.Exec(ctx, "postgres", "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = c.Exec(context.Background(), "postgres", "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	return c.URL(name)
}

// CreateRole creates a login role with a password and returns a URL for db
// that uses it (for tests of wrong passwords and secrets in URLs).
func (c *Cluster) CreateRole(t testing.TB, role, password, db string) string {
	t.Helper()
	ctx := context.Background()
	sql := fmt.Sprintf("CREATE ROLE %s LOGIN SUPERUSER PASSWORD '%s'", pgx.Identifier{role}.Sanitize(), strings.ReplaceAll(password, "'", "''"))
	if err := c.Exec(ctx, "postgres", sql); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("create role: %v", err)
	}
	return fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable", role, password, c.Host, c.Port, db)
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	out := b.String()
	if len(out) > 40 {
		out = out[len(out)-40:]
	}
	return out
}

// Stop stops the server and removes its folder.
func (c *Cluster) Stop() {
	if c.cmd != nil && c.cmd.Process != nil {
		_ = c.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = c.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = c.cmd.Process.Kill()
			<-done
		}
	}
	_ = os.RemoveAll(c.Dir)
}
