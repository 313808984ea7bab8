package backup

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"

	"github.com/deployctl/deployctl/pkg/postgres"
)

// Tools names the PostgreSQL client programs; empty fields mean the ones on
// PATH.
type Tools struct {
	PgDump    string
	PgRestore string
	// PgBasebackup and PgVerifybackup are the programs of base backups;
	// BinDir is where the server's programs are (postgres, for the scratch
	// server of verify --type base): empty, the folder of the postgres on
	// PATH, else Debian's /usr/lib/postgresql/MAJOR/bin.
	PgBasebackup   string
	PgVerifybackup string
	BinDir         string
}

func (t Tools) dump() string    { return or(t.PgDump, "pg_dump") }
func (t Tools) restore() string { return or(t.PgRestore, "pg_restore") }

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// childConn splits a connection string for a libpq program: the connection
// string without its password (for --dbname) and the environment that
// carries the password (PGPASSWORD), so that it never appears on a command
// line, in ps output or in an error.
func childConn(raw string) (dbname string, env []string) {
	pw := postgres.Password(raw)
	if pw == "" {
		return raw, nil
	}
	env = []string{"PGPASSWORD=" + pw}
	if u, err := url.Parse(raw); err == nil && u.Scheme != "" {
		if u.User != nil {
			u.User = url.User(u.User.Username())
		}
		q := u.Query()
		q.Del("password")
		u.RawQuery = q.Encode()
		return u.String(), env
	}
	var kept []string
	for _, f := range strings.Fields(raw) {
		if !strings.HasPrefix(f, "password=") {
			kept = append(kept, f)
		}
	}
	return strings.Join(kept, " "), env
}

// tool is one run of a PostgreSQL client program.
type tool struct {
	cmd    *exec.Cmd
	stderr *tailBuffer
	name   string
	secret string
}

// Application names of the sessions of deployctl's PostgreSQL programs
// (PGAPPNAME): a restore's sessions are AppRestore + its restore id, so
// that a later restore can find and end them.
const (
	AppBackup  = "deployctl-backup"
	AppVerify  = "deployctl-verify"
	AppRestore = "deployctl-restore-"
)

// newTool prepares prog with args against the database conn, its sessions
// named app; args must not hold the password (childConn keeps it in the
// environment). It runs supervised: it and every process it starts die
// with deployctl.
func newTool(ctx context.Context, prog, conn, app string, args ...string) *tool {
	dbname, env := childConn(conn)
	cmd := exec.CommandContext(ctx, prog, append(args, "--dbname="+dbname)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Env = append(cmd.Env, "PGAPPNAME="+app, "PGCONNECT_TIMEOUT=10")
	supervised(cmd)
	t := &tool{cmd: cmd, stderr: &tailBuffer{max: 8 << 10}, name: prog, secret: postgres.Password(conn)}
	cmd.Stderr = t.stderr
	return t
}

// checkClient makes the server end a session's statement soon after its
// client is gone (PostgreSQL 14 and later), instead of finishing a long
// CREATE INDEX for nobody: added to PGOPTIONS.
func (t *tool) checkClient() {
	opts := os.Getenv("PGOPTIONS")
	t.cmd.Env = append(t.cmd.Env, "PGOPTIONS="+strings.TrimSpace(opts+" -c client_connection_check_interval=500"))
}

// kill ends the program and everything it started.
func (t *tool) kill() { _ = killGroup(t.cmd) }

// newLocalTool prepares prog without a database.
func newLocalTool(ctx context.Context, prog string, args ...string) *tool {
	cmd := exec.CommandContext(ctx, prog, args...)
	supervised(cmd)
	t := &tool{cmd: cmd, stderr: &tailBuffer{max: 8 << 10}, name: prog}
	cmd.Stderr = t.stderr
	return t
}

// err explains a failed run with the end of the program's stderr, without
// the password.
func (t *tool) err(err error) error {
	if err == nil {
		return nil
	}
	msg := strings.TrimSpace(t.stderr.String())
	if t.secret != "" {
		msg = strings.ReplaceAll(msg, t.secret, "xxxxx")
	}
	if msg == "" {
		return fmt.Errorf("%s: %v", t.name, err)
	}
	return fmt.Errorf("%s: %v: %s", t.name, err, oneLine(msg))
}

func oneLine(s string) string {
	lines := strings.Split(s, "\n")
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return strings.Join(lines, " / ")
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// toolVersion returns the version line of a program ("pg_dump (PostgreSQL) 15.20").
func toolVersion(ctx context.Context, prog string) string {
	out, err := exec.CommandContext(ctx, prog, "--version").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}
