package migrate_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deployctl/deployctl/pkg/lock"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/local/statefs"
)

// The environment's lock as the local provider keeps it for the project.
func (p *project) locker() provider.Locker {
	p.t.Helper()
	l, err := statefs.NewLocker(p.t.Context(), provider.Env{Name: "development", StateDir: filepath.Join(p.dir, ".deployctl")}, nil)
	must(p.t, err)
	return l
}

// waitHolder waits until the environment's lock is held for command.
func (p *project) waitHolder(command string) {
	p.t.Helper()
	l := p.locker()
	waitFor(p.t, "the lock held by "+command, 30*time.Second, func() bool {
		h := lock.Holder(p.t.Context(), l)
		return h != nil && h.Command == command
	})
}

// blockTable holds an exclusive lock on table until the returned function
// runs: whatever touches the table waits meanwhile, holding its own locks.
func (p *project) blockTable(table string) func() {
	p.t.Helper()
	conn, err := pgx.Connect(p.t.Context(), p.url)
	must(p.t, err)
	tx, err := conn.Begin(p.t.Context())
	must(p.t, err)
	_, err = tx.Exec(p.t.Context(), "LOCK TABLE "+table+" IN ACCESS EXCLUSIVE MODE")
	must(p.t, err)
	return func() {
		_ = tx.Rollback(context.Background())
		_ = conn.Close(context.Background())
	}
}

func wantLockedBy(t *testing.T, r result, what string, holder ...string) {
	t.Helper()
	if r.code != 3 {
		t.Fatalf("%s while the environment is locked: exit %d, want 3\nstdout: %s\nstderr: %s", what, r.code, r.out, r.err)
	}
	for _, h := range holder {
		if !strings.Contains(r.err, h) {
			t.Errorf("%s: the message does not name %q: %s", what, h, r.err)
		}
	}
}

// Every command that changes the database or maintenance windows refuses
// with exit 3, naming the holder, while another operator holds the lock,
// and changes nothing.
func TestChangingCommandsRefuseWhileLocked(t *testing.T) {
	p := newProject(t)
	p.write("00001_items.sql", "-- +goose Up\nCREATE TABLE items (id int);\n-- +goose Down\nDROP TABLE items;\n")
	p.mustRun("migrate", "up")
	p.mustRun("backup", "create")
	p.write("00002_more.sql", "-- +goose Up\nALTER TABLE items ADD COLUMN name text;\n-- +goose Down\nALTER TABLE items DROP COLUMN name;\n")

	release, err := p.locker().Acquire(t.Context(), provider.Holder{Actor: "bob", Host: "ops-1", PID: 42, Command: "rollout promote", Reason: "release 1.4", Since: time.Now()})
	must(t, err)
	defer func() { _ = release() }()
	for _, args := range [][]string{
		{"migrate", "up"},
		{"migrate", "down", "--yes"},
		{"migrate", "redo", "--yes"},
		{"migrate", "resolve", "1", "--applied", "--reason", "checked by hand"},
		{"backup", "restore", "latest", "--clean", "--yes"},
		{"maintenance", "schedule", "--start", "2h", "--duration", "30m"},
		{"maintenance", "cancel", "mw-none"},
	} {
		wantLockedBy(t, p.run(args...), strings.Join(args, " "), "bob", "rollout promote", "release 1.4")
	}
	if v := p.scalar("SELECT max(version_id) FROM goose_db_version"); v != int64(1) {
		t.Errorf("a refused command changed the schema version: %v", v)
	}
	_ = release()
	p.mustRun("migrate", "up")
	if h := p.mustRun("history", "-o", "json").out; strings.Count(h, `"command": "migrate up"`)+strings.Count(h, `"command":"migrate up"`) != 2 {
		t.Errorf("history should hold the two migrate up that ran, and none of the refused ones:\n%s", h)
	}
}

// The operator's story of the issue: `backup restore --clean` in one
// terminal and `migrate up` in another. Whichever comes second gets exit 3
// naming the first, and the first finishes as if alone.
func TestMigrateUpAndRestoreNeverOverlap(t *testing.T) {
	p := newProject(t)
	p.write("00001_items.sql", "-- +goose Up\nCREATE TABLE items (id int);\nINSERT INTO items VALUES (1), (2);\n-- +goose Down\nDROP TABLE items;\n")
	p.mustRun("migrate", "up")
	p.mustRun("backup", "create")
	p.write("00002_three.sql", "-- +goose Up\nINSERT INTO items VALUES (3);\n-- +goose Down\nDELETE FROM items WHERE id = 3;\n")

	t.Run("migrate up during backup restore", func(t *testing.T) {
		unblock := p.blockTable("items") // the restore's DROP waits here
		c, _, errb := p.cmd(t.Context(), "backup", "restore", "latest", "--clean", "--yes", "--reason", "rehearse DR")
		must(t, c.Start())
		p.waitHolder("backup restore")
		wantLockedBy(t, p.run("migrate", "up"), "migrate up", "backup restore", "rehearse DR")
		unblock()
		if err := c.Wait(); err != nil {
			t.Fatalf("backup restore: %v\n%s", err, errb)
		}
		if n := p.scalar("SELECT count(*) FROM items"); n != int64(2) {
			t.Fatalf("after the restore items has %v rows, want the backup's 2", n)
		}
	})
	t.Run("backup restore during migrate up", func(t *testing.T) {
		unblock := p.blockTable("items") // migration 2's INSERT waits here
		c, _, errb := p.cmd(t.Context(), "migrate", "up")
		must(t, c.Start())
		p.waitHolder("migrate up")
		wantLockedBy(t, p.run("backup", "restore", "latest", "--clean", "--yes"), "backup restore", "migrate up")
		unblock()
		if err := c.Wait(); err != nil {
			t.Fatalf("migrate up: %v\n%s", err, errb)
		}
		if n := p.scalar("SELECT count(*) FROM items"); n != int64(3) {
			t.Fatalf("after migrate up items has %v rows, want 3", n)
		}
	})
}
