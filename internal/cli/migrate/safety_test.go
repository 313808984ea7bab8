package migrate_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

// Two real processes started together: every migration applied once, both
// exit 0, and the one that waited said who held the lock.
func TestConcurrentUpTwoProcesses(t *testing.T) {
	p := newProject(t)
	p.write("00001_log.sql", "-- +goose Up\nCREATE TABLE applied_log (version int);\nINSERT INTO applied_log VALUES (1);\nSELECT pg_sleep(1.5);\n-- +goose Down\nDROP TABLE applied_log;\n")
	for v := 2; v <= 5; v++ {
		p.write(fmt.Sprintf("%05d_m.sql", v), fmt.Sprintf("-- +goose Up\nINSERT INTO applied_log VALUES (%d);\n-- +goose Down\nDELETE FROM applied_log WHERE version = %d;\n", v, v))
	}
	var wg sync.WaitGroup
	res := make([]result, 2)
	start := make(chan struct{})
	for i := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res[i] = p.run("migrate", "up", "--lock-timeout", "30s")
		}()
	}
	close(start)
	wg.Wait()
	waited := 0
	for i, r := range res {
		if r.code != 0 {
			t.Errorf("process %d: exit %d\n%s", i, r.code, r.err)
		}
		if strings.Contains(r.err, "waiting up to 30s for the migration lock held by alice") {
			waited++
			wantContains(t, "waiter", r.err, "migrate up", "pid ")
		}
	}
	if waited != 1 {
		t.Errorf("%d processes said they waited for the lock holder, want 1:\n%s\n---\n%s", waited, res[0].err, res[1].err)
	}
	if got := p.query("SELECT version FROM applied_log ORDER BY version"); fmt.Sprint(got) != "[1 2 3 4 5]" {
		t.Errorf("applied: %v, want each of 1..5 once", got)
	}
	if n := p.scalar("SELECT count(*) FROM goose_db_version WHERE version_id > 0"); n.(int64) != 5 {
		t.Errorf("goose versions: %v", n)
	}
}

// holdLock takes deployctl's advisory lock as another operator would.
func holdLock(t *testing.T, url, appName string) func() {
	t.Helper()
	conn := session(t, url, appName, "SELECT pg_advisory_lock(x'6d696772'::bigint)")
	return func() { conn.Close(context.Background()) }
}

func TestLockTimeoutExit3NamesHolder(t *testing.T) {
	p := newProject(t)
	p.write("00001_users.sql", m1)
	release := holdLock(t, p.url, "deployctl pid 4242 migrate up by bob@build7")
	defer release()
	r := p.run("migrate", "up", "--lock-timeout", "300ms")
	if r.code != 3 {
		t.Fatalf("exit %d, want 3\n%s", r.code, r.err)
	}
	wantContains(t, "stderr", r.err, "held by bob (pid 4242 on build7", "locked by bob (pid 4242 on build7, running \"migrate up\")")
	if ok := p.scalar("SELECT to_regclass('users') IS NULL"); ok != true {
		t.Errorf("something was applied while the lock was held")
	}
	// plan, status and validate take no lock.
	p.mustRun("migrate", "plan")
	r = p.mustRun("migrate", "status")
	wantContains(t, "status while locked", r.err, "a migration is running: bob (pid 4242 on build7, running \"migrate up\")")
	p.mustRun("migrate", "validate")
	release()
	p.mustRun("migrate", "up", "--lock-timeout", "5s")
}

func TestFailureInTransactionRollsBack(t *testing.T) {
	p := newProject(t)
	p.write("00001_users.sql", m1)
	p.write("00002_bad.sql", "-- +goose Up\nCREATE TABLE half (id int);\n\nUPDATE users\n  SET email = nosuchcol;\n-- +goose Down\nDROP TABLE half;\n")
	r := p.run("migrate", "up")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.code, r.err)
	}
	wantContains(t, "stderr", r.err, "00002_bad.sql", "rolled back", "00002_bad.sql:4", "SET email = nosuchcol",
		`column "nosuchcol" does not exist (SQLSTATE 42703)`, "(line 5)")
	if ok := p.scalar("SELECT to_regclass('half') IS NULL"); ok != true {
		t.Errorf("the failed migration's first statement stayed")
	}
	if v := p.scalar("SELECT max(version_id) FROM goose_db_version"); v.(int64) != 1 {
		t.Errorf("version %v after the failure, want 1", v)
	}
	if n := p.scalar("SELECT count(*) FROM deployctl_migrations WHERE state = 'dirty'"); n.(int64) != 0 {
		t.Errorf("a transactional failure left a dirty mark")
	}
}

func TestDirtyMarkAndResolve(t *testing.T) {
	p := newProject(t)
	p.write("00001_users.sql", m1)
	p.write("00002_idx.sql", "-- +goose NO TRANSACTION\n-- +goose Up\nCREATE INDEX CONCURRENTLY users_email ON users (email);\nCREATE INDEX CONCURRENTLY users_bad ON users (nope);\n-- +goose Down\nDROP INDEX CONCURRENTLY users_email;\n")
	p.write("00003_orders.sql", m2)
	r := p.run("migrate", "up")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.code, r.err)
	}
	wantContains(t, "stderr", r.err, "00002_idx.sql", "outside a transaction", "marked dirty", "migrate resolve 2", "00002_idx.sql:4")
	r = p.mustRun("migrate", "status")
	wantContains(t, "status", r.out, "dirty", "failed up outside a transaction")
	r = p.run("migrate", "up")
	if r.code != 1 || !strings.Contains(r.err, "is dirty") || !strings.Contains(r.err, "resolve 2 --applied|--rolled-back") {
		t.Fatalf("up over a dirty mark: exit %d\n%s", r.code, r.err)
	}
	if ok := p.scalar("SELECT to_regclass('orders') IS NULL"); ok != true {
		t.Errorf("up applied past a dirty mark")
	}
	r = p.run("migrate", "resolve", "2", "--rolled-back")
	if r.code != 2 {
		t.Errorf("resolve without --reason: exit %d, want 2", r.code)
	}
	// The operator undoes the half-applied part and fixes the file.
	p.query("DROP INDEX users_email")
	p.write("00002_idx.sql", "-- +goose NO TRANSACTION\n-- +goose Up\nCREATE INDEX CONCURRENTLY users_email ON users (email);\n-- +goose Down\nDROP INDEX CONCURRENTLY users_email;\n")
	p.mustRun("migrate", "resolve", "2", "--rolled-back", "--reason", "dropped the half-built index")
	if got := p.query("SELECT resolution, reason, actor FROM deployctl_migration_resolutions"); fmt.Sprint(got) != "[rolled-back (was dirty-up) dropped the half-built index alice]" {
		t.Errorf("resolution recorded as %v", got)
	}
	p.mustRun("migrate", "up")
	if v := p.scalar("SELECT max(version_id) FROM goose_db_version"); v.(int64) != 3 {
		t.Errorf("version %v after resolving, want 3", v)
	}
	hist := p.history()
	wantContains(t, "history", hist, "migrate up failed", "migrate resolve ok", "migrate up ok 1→3")
	p.noSecretInFiles(".deployctl")
}

func TestEditedAppliedFile(t *testing.T) {
	p := newProject(t)
	p.write("00001_users.sql", m1)
	p.mustRun("migrate", "up")
	p.write("00001_users.sql", strings.Replace(m1, "email text", "email text NOT NULL", 1))
	p.write("00002_orders.sql", m2)
	for _, args := range [][]string{{"migrate", "status"}, {"migrate", "validate"}, {"migrate", "plan"}} {
		r := p.run(args...)
		wantContains(t, strings.Join(args, " "), r.out+r.err, "00001_users.sql", "edited")
	}
	if r := p.run("migrate", "validate"); r.code != 1 {
		t.Errorf("validate with an edited file: exit %d, want 1", r.code)
	}
	r := p.run("migrate", "up")
	if r.code != 1 {
		t.Fatalf("up with an edited file: exit %d, want 1\n%s", r.code, r.err)
	}
	wantContains(t, "up", r.err, "edited since they ran: 00001_users.sql", "--allow-changed")
	r = p.mustRun("migrate", "up", "--allow-changed")
	wantContains(t, "up --allow-changed", r.err, "warning: 00001_users.sql was edited")
	p.mustRun("migrate", "resolve", "1", "--applied", "--reason", "comment-only edit reviewed")
	r = p.mustRun("migrate", "validate")
	wantContains(t, "validate after accepting", r.err, "ok:")
}

func TestAdoptsPlainGooseDatabase(t *testing.T) {
	p := newProject(t)
	p.write("00001_users.sql", m1)
	p.write("00002_orders.sql", m2)
	db, err := sql.Open("pgx", p.url)
	must(t, err)
	defer db.Close()
	prov, err := goose.NewProvider(goose.DialectPostgres, db, os.DirFS(p.dir+"/migrations"))
	must(t, err)
	_, err = prov.UpTo(t.Context(), 1)
	must(t, err)
	r := p.mustRun("migrate", "status")
	wantContains(t, "status before adoption", r.out, "unknown")
	r = p.mustRun("migrate", "up")
	wantContains(t, "up", r.err, "adopted 1 migration(s) applied before deployctl", "00001_users.sql")
	if got := p.query("SELECT version, adopted FROM deployctl_migrations ORDER BY version"); fmt.Sprint(got) != "[1 true 2 false]" {
		t.Errorf("records: %v", got)
	}
}

var _ = stdlib.GetDefaultDriver

func TestBadInput(t *testing.T) {
	p := newProject(t)
	p.write("00001_users.sql", m1)
	cases := []struct {
		name  string
		setup func() []string
		code  int
		want  string
	}{
		{"missing folder", func() []string { return []string{"migrate", "up", "--dir", "nope"} }, 2, "migrations folder nope does not exist"},
		{"no up annotation", func() []string {
			p.write("00002_x.sql", "CREATE TABLE x (id int);\n")
			return []string{"migrate", "up"}
		}, 2, "00002_x.sql"},
		{"duplicate versions", func() []string {
			p.write("00002_x.sql", m2)
			p.write("2_y.sql", m2)
			return []string{"migrate", "up"}
		}, 2, "duplicate migration version 2"},
		{"unreachable", func() []string {
			os.Remove(p.dir + "/migrations/2_y.sql")
			return []string{"migrate", "up", "--database-url", "postgres://u:s3cretpw@127.0.0.1:1/db?connect_timeout=2"}
		}, 4, "cannot reach the database"},
		{"wrong password", func() []string {
			url := strings.Replace(p.url, "postgres:pgtest@", "postgres:Wr0ngPassw0rd@", 1)
			return []string{"migrate", "up", "--database-url", url}
		}, 1, "refused the login"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := p.run(c.setup()...)
			if r.code != c.code {
				t.Errorf("exit %d, want %d\n%s", r.code, c.code, r.err)
			}
			wantContains(t, "stderr", r.err, c.want)
			for _, secret := range []string{"s3cretpw", "Wr0ngPassw0rd", "pgtest@"} {
				if strings.Contains(r.out+r.err, secret) {
					t.Errorf("output shows the password %q:\n%s", secret, r.err)
				}
			}
		})
	}
	if ok := p.scalar("SELECT to_regclass('goose_db_version') IS NULL"); ok != true {
		t.Errorf("bad input applied something")
	}
}

// Ctrl-C during a slow migration: exit 130, the transaction rolled back,
// the lock released at once.
func TestInterruptRollsBackAndReleasesLock(t *testing.T) {
	p := newProject(t)
	p.write("00001_users.sql", m1)
	p.write("00002_slow.sql", "-- +goose Up\nCREATE TABLE slow (id int);\nSELECT pg_sleep(30);\n-- +goose Down\nDROP TABLE slow;\n")
	c, _, errb := p.cmd(t.Context(), "migrate", "up")
	must(t, c.Start())
	waitFor(t, "the slow migration to run", 20*time.Second, func() bool {
		return p.scalar("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%'").(int64) > 0
	})
	must(t, c.Process.Signal(syscall.SIGINT))
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		c.Process.Kill()
		t.Fatal("deployctl did not stop within 10s of SIGINT")
	}
	if code := c.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit %d after SIGINT, want 130\n%s", code, errb.String())
	}
	if ok := p.scalar("SELECT to_regclass('slow') IS NULL"); ok != true {
		t.Errorf("the interrupted migration's transaction was not rolled back")
	}
	if v := p.scalar("SELECT max(version_id) FROM goose_db_version"); v.(int64) != 1 {
		t.Errorf("version %v after the interrupt, want 1", v)
	}
	p.write("00002_slow.sql", "-- +goose Up\nCREATE TABLE slow (id int);\n-- +goose Down\nDROP TABLE slow;\n")
	p.mustRun("migrate", "up", "--lock-timeout", "2s")
	if ok := p.scalar("SELECT to_regclass('slow') IS NOT NULL"); ok != true {
		t.Errorf("second up did not apply")
	}
}

// Ctrl-C during a NO TRANSACTION migration leaves the dirty mark written
// before it started.
func TestInterruptNoTransactionLeavesDirtyMark(t *testing.T) {
	p := newProject(t)
	p.write("00001_slow.sql", "-- +goose NO TRANSACTION\n-- +goose Up\nSELECT pg_sleep(30);\n-- +goose Down\nSELECT 1;\n")
	c, _, errb := p.cmd(t.Context(), "migrate", "up")
	must(t, c.Start())
	waitFor(t, "the slow migration to run", 20*time.Second, func() bool {
		return p.scalar("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%'").(int64) > 0
	})
	must(t, c.Process.Signal(syscall.SIGINT))
	_ = c.Wait()
	if code := c.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit %d, want 130\n%s", code, errb.String())
	}
	r := p.run("migrate", "up", "--lock-timeout", "2s")
	if r.code != 1 || !strings.Contains(r.err, "00001_slow.sql) is dirty") {
		t.Errorf("up after an interrupted NO TRANSACTION migration: exit %d\n%s", r.code, r.err)
	}
}
