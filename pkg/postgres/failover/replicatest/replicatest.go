// Package replicatest makes streaming replicas of a pgtest cluster, as
// INFRA.md measured: pg_basebackup -R -X stream as the postgres user over
// the primary's trusted unix socket, then a second postmaster on its own
// port. About 0.3 s each.
package replicatest

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

	"github.com/deployctl/deployctl/pkg/postgres/pgtest"
)

// Replica is a running streaming replica.
type Replica struct {
	Dir    string
	Port   int
	cmd    *exec.Cmd
	exited chan struct{}
}

// URL is the replica's TCP URL for db as the postgres superuser (the
// password is the primary's: the catalog is a copy).
func (r *Replica) URL(db string) string {
	return fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/%s?sslmode=disable", pgtest.Password, r.Port, db)
}

// Start makes a replica of primary, stopped and removed when t ends.
func Start(t testing.TB, primary *pgtest.Cluster) *Replica {
	t.Helper()
	cred, uid, gid := credential(t)
	dir, err := os.MkdirTemp("", "pgr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	bb := exec.Command(filepath.Join(pgtest.BinDir, "pg_basebackup"), "-h", primary.Dir, "-p", strconv.Itoa(primary.Port), "-U", "postgres",
		"-D", data, "-R", "-X", "stream", "--checkpoint=fast", "--no-sync")
	bb.SysProcAttr = cred
	if out, err := bb.CombinedOutput(); err != nil {
		t.Fatalf("pg_basebackup: %v: %s", err, out)
	}
	r := &Replica{Dir: dir, Port: freePort(t)}
	r.cmd = exec.Command(filepath.Join(pgtest.BinDir, "postgres"), "-D", data, "-p", strconv.Itoa(r.Port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200", // at least the primary's
		"-c", "cluster_name=replica"+strconv.Itoa(r.Port))
	r.cmd.SysProcAttr = cred
	logf, _ := os.Create(filepath.Join(dir, "server.log"))
	_ = os.Chown(logf.Name(), uid, gid)
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	exited := make(chan struct{})
	go func() { _ = r.cmd.Wait(); close(exited) }()
	r.exited = exited
	if err := r.waitReady(15 * time.Second); err != nil {
		log, _ := os.ReadFile(logf.Name())
		t.Fatalf("replica: %v\n%s", err, log)
	}
	return r
}

func credential(t testing.TB) (*syscall.SysProcAttr, int, int) {
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, Setpgid: true}, uid, gid
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (r *Replica) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, r.URL("postgres"))
		cancel()
		if err == nil {
			return conn.Close(context.Background())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s: %v", limit, err)
		}
		select {
		case <-r.exited:
			return fmt.Errorf("the replica's postmaster exited: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Stop stops the replica (idempotent).
func (r *Replica) Stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Signal(os.Interrupt)
	select {
	case <-r.exited:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.exited
	}
}
