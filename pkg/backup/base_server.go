package backup

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deployctl/deployctl/pkg/timeutil"
)

// serverUser is who runs PostgreSQL on a folder deployctl built: deployctl
// itself, or when it runs as root (which PostgreSQL refuses) runAs, by
// default "postgres". nil: deployctl's own user.
func serverUser(runAs string) (*user.User, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(or(runAs, "postgres"))
	if err != nil {
		return nil, fmt.Errorf("deployctl runs as root, and PostgreSQL refuses to: the data folder goes to the OS user %q, which does not exist (%v)", or(runAs, "postgres"), err)
	}
	return u, nil
}

// chownForServer gives dir to the server's user when deployctl runs as
// root; it returns that user's name, or "".
func chownForServer(dir, runAs string) (string, error) {
	u, err := serverUser(runAs)
	if err != nil || u == nil {
		return "", err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	err = filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		return "", fmt.Errorf("give the data folder to %s: %w", u.Username, err)
	}
	return u.Username, nil
}

// scratchServer is a PostgreSQL started by deployctl on a restored copy:
// only on a unix socket in its private folder, not archiving, supervised
// (it dies with deployctl).
type scratchServer struct {
	dir, sock string
	port      int
	role      string
	tool      *tool
	done      chan struct{}
	err       error
}

// startScratch starts postgres (of version) on dataDir with its socket,
// log and authentication files in sock, trusting local connections (the
// socket's folder is private), as role's server; role is who connects.
func (e *Engine) startScratch(ctx context.Context, dataDir, sock, version, role, as string) (*scratchServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	hba := filepath.Join(sock, "pg_hba.conf")
	ident := filepath.Join(sock, "pg_ident.conf")
	if err := os.WriteFile(hba, []byte("local all all trust\n"), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(ident, nil, 0o600); err != nil {
		return nil, err
	}
	owner, err := chownForServer(filepath.Dir(sock), as) // the data folder and the socket's are in it
	if err != nil {
		return nil, err
	}
	s := &scratchServer{dir: dataDir, sock: sock, port: port, role: role, done: make(chan struct{})}
	args := []string{"-D", dataDir, "-p", strconv.Itoa(port), "-c", "listen_addresses=", "-c", "unix_socket_directories=" + sock,
		"-c", "hba_file=" + hba, "-c", "ident_file=" + ident, "-c", "archive_mode=off", "-c", "hot_standby=off", "-c", "ssl=off",
		"-c", "logging_collector=off", "-c", "log_destination=stderr", "-c", "cluster_name=" + filepath.Base(filepath.Dir(sock)), "-c", "shared_buffers=32MB"}
	s.tool = newLocalTool(ctx, e.Tools.server("postgres", version), args...)
	s.tool.stderr.max = 64 << 10
	if owner != "" {
		u, _ := user.Lookup(owner)
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		runAs(s.tool.cmd, uid, gid)
	}
	if err := s.tool.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w (install the PostgreSQL server, or set its folder)", s.tool.name, err)
	}
	go func() { s.err = s.tool.cmd.Wait(); close(s.done) }()
	return s, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *scratchServer) url() string {
	return fmt.Sprintf("postgres://%s@/template1?host=%s&port=%d&sslmode=disable", url.PathEscape(s.role), url.QueryEscape(s.sock), s.port)
}

// waitPromoted waits until the server has ended recovery and accepts
// connections, and returns a connection to it; a server that exits first
// fails with the end of its log.
func (s *scratchServer) waitPromoted(ctx context.Context) (*pgx.Conn, error) {
	pause := 10 * time.Millisecond
	for {
		select {
		case <-s.done:
			return nil, problemf("the restored copy did not reach a consistent state: PostgreSQL stopped (%v): %s", s.err, s.log())
		default:
		}
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		conn, err := pgx.Connect(c, s.url())
		cancel()
		if err == nil {
			var rec bool
			if err = conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&rec); err == nil && !rec {
				return conn, nil
			}
			conn.Close(context.Background())
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err := timeutil.Sleep(ctx, pause); err != nil {
			return nil, err
		}
		pause = min(2*pause, time.Second)
	}
}

// log is the end of the server's log, on one line.
func (s *scratchServer) log() string {
	lines := strings.Split(strings.TrimSpace(s.tool.stderr.String()), "\n")
	if len(lines) > 6 {
		lines = lines[len(lines)-6:]
	}
	return strings.Join(lines, " / ")
}

// stop shuts the server down at once (SIGQUIT: the postmaster ends its
// children, which run in sessions of their own, and exits) and waits for
// it; a server that does not go is killed with its group, and its
// children, which end on their postmaster's death, are waited for.
func (s *scratchServer) stop() {
	if pid := postmasterPID(s.dir); pid > 0 {
		_ = syscall.Kill(pid, syscall.SIGQUIT)
	}
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.tool.kill()
		<-s.done
	}
	name := filepath.Base(filepath.Dir(s.sock))
	for i := 0; i < 100 && titled(name); i++ {
		time.Sleep(100 * time.Millisecond)
	}
}

// postmasterPID reads the first line of dir/postmaster.pid; 0 if none.
func postmasterPID(dir string) int {
	raw, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	first, _, _ := strings.Cut(string(raw), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(first))
	return pid
}

// titled reports whether a process of a scratch server named name (its
// cluster_name, in every PostgreSQL process title) still runs; false
// where /proc cannot tell.
func titled(name string) bool {
	found, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range found {
		raw, err := os.ReadFile(f)
		if err == nil && strings.Contains(string(raw), name+":") {
			return true
		}
	}
	return false
}

// scratchDirPrefix names the temporary folders of verify --type base:
// deployctl-verify-PID-…; a verify removes those of killed verifies.
const scratchDirPrefix = "deployctl-verify-"

func removeStaleScratchDirs(dir string) []string {
	if dir == "" {
		dir = os.TempDir()
	}
	var removed []string
	found, _ := filepath.Glob(filepath.Join(dir, scratchDirPrefix+"*"))
	for _, f := range found {
		pidText, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(f), scratchDirPrefix), "-")
		pid, err := strconv.Atoi(pidText)
		if err == nil && pid != os.Getpid() && !alive(pid) && !titled(filepath.Base(f)) {
			if os.RemoveAll(f) == nil {
				removed = append(removed, f)
			}
		}
	}
	return removed
}

// connRole is the role of a (redacted) connection string, for connecting
// to a restored copy; "postgres" when it names none.
func connRole(conn string) string {
	if u, err := url.Parse(conn); err == nil && u.Scheme != "" && u.User != nil && u.User.Username() != "" {
		return u.User.Username()
	}
	for _, f := range strings.Fields(conn) {
		if v, ok := strings.CutPrefix(f, "user="); ok {
			return v
		}
	}
	return "postgres"
}
