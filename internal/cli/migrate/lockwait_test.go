package migrate_test

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// blocker is another application's session that holds a lock on a table,
// idle in its transaction, as a stuck report job would.
func blocker(t *testing.T, url, appName, sql string) (pid uint32, release func()) {
	t.Helper()
	conn := session(t, url, appName, "BEGIN", sql)
	return conn.PgConn().PID(), func() { conn.Close(context.Background()) }
}

// session is a connection named appName that has run the statements.
func session(t *testing.T, url, appName string, statements ...string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(url)
	must(t, err)
	cfg.RuntimeParams["application_name"] = appName
	conn, err := pgx.ConnectConfig(t.Context(), cfg)
	must(t, err)
	for _, sql := range statements {
		_, err = conn.Exec(t.Context(), sql)
		must(t, err)
	}
	return conn
}

// A migration statement waits at most migrations.statement_lock_timeout for
// a table lock, says while it waits on what and behind whom, and then fails
// cleanly: rolled back, exit 1, the blocker named with what to do.
func TestStatementLockTimeoutNamesBlocker(t *testing.T) {
	p := newProject(t)
	p.write("00001_users.sql", m1)
	p.mustRun("migrate", "up")
	p.write("00002_users_name.sql", m3)
	pid, release := blocker(t, p.url, "nightly-report", "SELECT count(*) FROM users")
	defer release()
	p.env = append(p.env, "DEPLOYCTL_MIGRATIONS_STATEMENT_LOCK_TIMEOUT=3s")
	// Without a lock timeout up would wait for the blocker for ever: the
	// guard kills it (exit -1) instead of hanging the test.
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	c, out, errb := p.cmd(ctx, "migrate", "up")
	_ = c.Run()
	r := result{out: out.String(), err: errb.String(), code: c.ProcessState.ExitCode()}
	t.Logf("up behind a blocker:\n%s", r.err)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.code, r.err)
	}
	wantContains(t, "stderr", r.err,
		"waiting for a lock on users",
		fmt.Sprintf("held by backend pid %d", pid),
		`application_name "nightly-report"`, `state "idle in transaction"`, `query "SELECT count(*) FROM users"`,
		"00002_users_name.sql (up) failed; its transaction was rolled back",
		"lock timeout", "migrations.statement_lock_timeout (3s)",
		fmt.Sprintf("SELECT pg_terminate_backend(%d)", pid), "run 'deployctl migrate up' again")
	if ok := p.scalar("SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'name'"); ok.(int64) != 0 {
		t.Errorf("the timed-out migration left its column")
	}
	if v := p.scalar("SELECT max(version_id) FROM goose_db_version"); v.(int64) != 1 {
		t.Errorf("version %v after the lock timeout, want 1", v)
	}
	release()
	p.mustRun("migrate", "up")
	if v := p.scalar("SELECT max(version_id) FROM goose_db_version"); v.(int64) != 2 {
		t.Errorf("version %v once the blocker is gone, want 2", v)
	}
}

func TestStatementLockTimeoutKeyListed(t *testing.T) {
	p := newProject(t)
	r := p.mustRun("env", "keys")
	var line string
	for _, l := range strings.Split(r.out, "\n") {
		if strings.Contains(l, "migrations.statement_lock_timeout") {
			line = l
		}
	}
	wantContains(t, "env keys", line, "DEPLOYCTL_MIGRATIONS_STATEMENT_LOCK_TIMEOUT", "10s")
}

// SIGKILL of deployctl while a migration statement runs: the server keeps
// running the statement (it holds the table's lock). status reports the
// orphaned session and how to end it; the next up ends it itself (its
// transaction could never commit) and applies the migration.
func TestKilledUpLeavesOrphanThatIsReportedAndEnded(t *testing.T) {
	p := newProject(t)
	p.write("00001_users.sql", m1)
	p.mustRun("migrate", "up")
	p.write("00002_slow.sql", "-- +goose Up\nALTER TABLE users ADD COLUMN name text;\nSELECT pg_sleep(120);\n-- +goose Down\nALTER TABLE users DROP COLUMN name;\n")
	c, _, _ := p.cmd(t.Context(), "migrate", "up")
	must(t, c.Start())
	running := "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(120)%' AND state = 'active'"
	waitFor(t, "the slow migration to run", 20*time.Second, func() bool { return p.scalar(running).(int64) > 0 })
	must(t, c.Process.Signal(syscall.SIGKILL))
	_ = c.Wait()
	orphan := p.scalar("SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(120)%' AND state = 'active'")
	if orphan == nil {
		t.Fatal("the killed migration's statement stopped with it: nothing to test")
	}
	r := p.mustRun("migrate", "status")
	t.Logf("status after the kill:\n%s", r.err)
	wantContains(t, "status", r.err, fmt.Sprintf("backend pid %v", orphan), "still runs", "SELECT pg_sleep(120)",
		"migrate up", fmt.Sprintf("SELECT pg_terminate_backend(%v)", orphan))
	r = p.mustRun("migrate", "status", "-o", "json")
	wantContains(t, "status -o json", r.out, `"orphans": [`, fmt.Sprintf(`"pid": %v`, orphan), `"query": "SELECT pg_sleep(120);`)
	p.write("00002_slow.sql", "-- +goose Up\nALTER TABLE users ADD COLUMN name text;\n-- +goose Down\nALTER TABLE users DROP COLUMN name;\n")
	r = p.mustRun("migrate", "up", "--lock-timeout", "5s")
	t.Logf("up after the kill:\n%s", r.err)
	wantContains(t, "up", r.err, fmt.Sprintf("ended backend pid %v", orphan), "SELECT pg_sleep(120)", "rolled back")
	if n := p.scalar(running).(int64); n != 0 {
		t.Errorf("the orphaned statement still runs")
	}
	if v := p.scalar("SELECT max(version_id) FROM goose_db_version"); v.(int64) != 2 {
		t.Errorf("version %v, want 2", v)
	}
	r = p.mustRun("migrate", "status", "-o", "json")
	wantContains(t, "status after up", r.out, `"orphans": []`)
}
