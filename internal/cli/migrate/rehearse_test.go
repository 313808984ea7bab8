package migrate_test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/backup"
	"github.com/deployctl/deployctl/pkg/migrate"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/local/filestore"
	"github.com/deployctl/deployctl/pkg/provider/local/statefs"
)

func (p *project) stateStore() provider.StateStore {
	st, err := statefs.NewState(p.t.Context(), provider.Env{Name: "development", StateDir: filepath.Join(p.dir, ".deployctl")}, nil)
	must(p.t, err)
	return st
}

func (p *project) scratchDatabases() int64 {
	return p.scalar("SELECT count(*) FROM pg_database WHERE datname LIKE 'deployctl_rehearse_%'").(int64)
}

// rehearsalProject has users applied with rows, and two pending migrations:
// one reversible, one marked irreversible.
func rehearsalProject(t *testing.T) *project {
	p := newProject(t)
	p.write("00001_users.sql", m1)
	p.mustRun("migrate", "up")
	p.query("INSERT INTO users SELECT g, 'u' || g || '@example.com' FROM generate_series(1, 500) g")
	p.write("00002_users_name.sql", m3)
	p.write("00003_drop_email.sql", "-- +goose Up\n-- deployctl:irreversible the e-mail column goes for good\nALTER TABLE users DROP COLUMN email;\n")
	return p
}

func TestRehearseRecordsResultAndDropsScratch(t *testing.T) {
	p := rehearsalProject(t)
	r := p.mustRun("migrate", "rehearse", "-o", "json")
	var reh migrate.Rehearsal
	must(t, json.Unmarshal([]byte(r.out), &reh))
	if !reh.OK || len(reh.Migrations) != 2 || reh.Migrations[0].DownMS < 0 || reh.Migrations[1].DownMS != -1 {
		t.Fatalf("rehearsal: %+v\n%s", reh, r.err)
	}
	if strings.Contains(r.out+r.err, "pgtest") || !strings.Contains(reh.Database, "xxxxx") {
		t.Errorf("the password shows: database %q\n%s", reh.Database, r.err)
	}
	plan, err := migrate.Pending(t.Context(), p.url, filepath.Join(p.dir, "migrations"))
	must(t, err)
	if plan.SetHash != reh.SetHash {
		t.Errorf("rehearsal set %s, plan set %s", reh.SetHash, plan.SetHash)
	}
	saved, err := migrate.LoadRehearsal(t.Context(), p.stateStore(), plan.SetHash)
	must(t, err)
	if !saved.OK || saved.SetHash != reh.SetHash || len(saved.Migrations) != 2 {
		t.Errorf("saved rehearsal: %+v", saved)
	}
	if v := p.scalar("SELECT max(version_id) FROM goose_db_version"); v.(int64) != 1 {
		t.Errorf("rehearse changed the database: version %v", v)
	}
	if n := p.scratchDatabases(); n != 0 {
		t.Errorf("%d scratch databases left", n)
	}
	p.noSecretInFiles(".deployctl")
}

func TestRehearseFailingDownExit1(t *testing.T) {
	p := rehearsalProject(t)
	p.write("00002_users_name.sql", "-- +goose Up\nALTER TABLE users ADD COLUMN name text;\n-- +goose Down\nALTER TABLE users DROP COLUMN nam;\n")
	r := p.run("migrate", "rehearse")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", r.code, r.err)
	}
	wantContains(t, "stderr", r.err, "rehearsal of set", "00002_users_name.sql (down) failed", `column "nam" of relation "users" does not exist`)
	if n := p.scratchDatabases(); n != 0 {
		t.Errorf("%d scratch databases left after a failure", n)
	}
	plan, err := migrate.Pending(t.Context(), p.url, filepath.Join(p.dir, "migrations"))
	must(t, err)
	saved, err := migrate.LoadRehearsal(t.Context(), p.stateStore(), plan.SetHash)
	must(t, err)
	if saved.OK || saved.Error == "" {
		t.Errorf("saved failed rehearsal: %+v", saved)
	}
	if _, err := migrate.LoadRehearsal(t.Context(), p.stateStore(), "0000"); !errors.Is(err, migrate.ErrNotFound) {
		t.Errorf("unknown set: %v, want ErrNotFound", err)
	}
}

func TestRehearseInterruptDropsScratch(t *testing.T) {
	p := rehearsalProject(t)
	p.write("00002_users_name.sql", "-- +goose Up\nSELECT pg_sleep(30);\n-- +goose Down\nSELECT 1;\n")
	c, _, errb := p.cmd(t.Context(), "migrate", "rehearse")
	must(t, c.Start())
	waitFor(t, "the slow migration to run on the scratch database", 30*time.Second, func() bool {
		return p.scalar("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(30)%' AND datname LIKE 'deployctl_rehearse_%'").(int64) > 0
	})
	must(t, c.Process.Signal(syscall.SIGINT))
	_ = c.Wait()
	if code := c.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit %d, want 130\n%s", code, errb.String())
	}
	if n := p.scratchDatabases(); n != 0 {
		t.Errorf("%d scratch databases left after Ctrl-C\n%s", n, errb.String())
	}
}

func TestRehearseFromBackup(t *testing.T) {
	p := rehearsalProject(t)
	r := p.run("migrate", "rehearse", "--from-backup", "latest")
	if r.code != 1 || !strings.Contains(r.err, "no verified logical backup") {
		t.Fatalf("no backup yet: exit %d\n%s", r.code, r.err)
	}
	store, err := filestore.Open(t.Context(), provider.Env{BaseDir: p.dir}, func(v any) error {
		v.(*filestore.Settings).Path = "backups"
		return nil
	})
	must(t, err)
	eng := &backup.Engine{Store: store}
	m, err := eng.Create(t.Context(), backup.CreateOptions{DatabaseURL: p.url})
	must(t, err)
	_, err = eng.Verify(t.Context(), m, backup.VerifyOptions{Level: backup.LevelChecksum})
	must(t, err)
	p.query("DELETE FROM users") // the copy must come from the backup, not the live database
	r = p.mustRun("migrate", "rehearse", "--from-backup", "latest")
	wantContains(t, "stderr", r.err, "restoring backup "+m.ID, "ok: 2 pending migration(s) rehearsed")
	if n := p.scratchDatabases(); n != 0 {
		t.Errorf("%d scratch databases left", n)
	}
	_ = context.Background
}

// noSecretInFiles fails when the database password (the canary) is in any
// file deployctl wrote under dir (state, history).
func (p *project) noSecretInFiles(dir string) {
	p.t.Helper()
	n := 0
	err := filepath.WalkDir(filepath.Join(p.dir, dir), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(path)
		n++
		if err == nil && strings.Contains(string(raw), ":pgtest@") {
			p.t.Errorf("%s holds the database password", path)
		}
		return err
	})
	must(p.t, err)
	if n == 0 {
		p.t.Errorf("no file written under %s", dir)
	}
}

// A down section that runs without error but leaves something of its up
// behind (here the index; IF NOT EXISTS lets up run again) fails the rehearsal, naming the migration and
// showing what differs.
func TestRehearseDownThatDoesNotUndoUp(t *testing.T) {
	p := rehearsalProject(t)
	p.write("00002_users_name.sql", "-- +goose Up\nALTER TABLE users ADD COLUMN name text;\nCREATE INDEX IF NOT EXISTS users_email_idx ON users (email);\n-- +goose Down\nALTER TABLE users DROP COLUMN name;\n")
	r := p.run("migrate", "rehearse", "-o", "json")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.err)
	}
	var reh migrate.Rehearsal
	must(t, json.Unmarshal([]byte(r.out), &reh))
	if reh.OK || len(reh.Migrations) != 1 || reh.Migrations[0].File != "00002_users_name.sql" {
		t.Fatalf("rehearsal: %+v", reh)
	}
	wantContains(t, "the rehearsal's error", reh.Error, "00002_users_name.sql", "down section does not undo its up",
		"--- schema before up", "+++ schema after up and down", "+CREATE INDEX users_email_idx ON public.users USING btree (email);")
	wantContains(t, "the migration's schema diff", reh.Migrations[0].SchemaDiff, "+CREATE INDEX users_email_idx")
	body := strings.SplitN(reh.Migrations[0].SchemaDiff, "\n", 3)[2] // without the --- and +++ lines
	for _, noise := range []string{"goose_db_version", "deployctl_migration", "SET ", "--", `\restrict`} {
		if strings.Contains(body, noise) {
			t.Errorf("the diff shows %q:\n%s", noise, reh.Migrations[0].SchemaDiff)
		}
	}
	r = p.run("migrate", "rehearse")
	wantContains(t, "stderr", r.err, "rehearsal of set", "00002_users_name.sql: its down section does not undo its up", "+CREATE INDEX users_email_idx")
	if n := p.scratchDatabases(); n != 0 {
		t.Errorf("%d scratch databases left", n)
	}
}

// Undoing an up exactly passes, even when the down puts a dropped column
// back at the end of the table and the database had no goose or deployctl
// tables before (the rehearsal creates them on the scratch copy).
func TestRehearseSchemaCheckPassesExactUndo(t *testing.T) {
	p := newProject(t)
	p.query("CREATE TABLE accounts (id bigint PRIMARY KEY, email text, created_at timestamptz)")
	p.write("00001_drop_email.sql", "-- +goose Up\nALTER TABLE accounts DROP COLUMN email;\n-- +goose Down\nALTER TABLE accounts ADD COLUMN email text;\n")
	p.write("00002_audit.sql", "-- +goose Up\nCREATE TABLE audit (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());\nCREATE INDEX audit_at ON audit (at);\n-- +goose Down\nDROP TABLE audit;\n")
	p.write("00003_no_down.sql", "-- +goose Up\nALTER TABLE accounts ADD COLUMN name text;\n")
	r := p.mustRun("migrate", "rehearse", "-o", "json")
	var reh migrate.Rehearsal
	must(t, json.Unmarshal([]byte(r.out), &reh))
	if !reh.OK || len(reh.Migrations) != 3 || reh.Migrations[1].DownMS < 0 || reh.Migrations[2].DownMS != -1 {
		t.Fatalf("rehearsal: %+v\n%s", reh, r.err)
	}
	wantContains(t, "stderr", r.err, "00003_no_down.sql: up only (00003_no_down.sql has no down section")
}
