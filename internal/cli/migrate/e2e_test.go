package migrate_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUpStatusDownRedo(t *testing.T) {
	p := newProject(t)
	p.write("00001_users.sql", m1)
	p.write("00002_orders.sql", m2)
	p.write("00003_users_name.sql", m3)

	r := p.mustRun("migrate", "up")
	wantContains(t, "up stdout", r.out, "00001_users.sql", "00003_users_name.sql")
	wantContains(t, "up stderr", r.err, "now at version 3 (was 0)")
	if strings.Contains(r.err, "pgtest") || strings.Contains(r.out, "pgtest") {
		t.Errorf("the password of the database URL was printed:\n%s\n%s", r.out, r.err)
	}

	r = p.mustRun("migrate", "status", "-o", "json")
	var st struct {
		Version    int64
		Pending    int
		Migrations []struct {
			Version  int64
			State    string
			Checksum string
		}
	}
	must(t, json.Unmarshal([]byte(r.out), &st))
	if st.Version != 3 || st.Pending != 0 || len(st.Migrations) != 3 || st.Migrations[2].Checksum != "ok" {
		t.Errorf("status after up: %+v", st)
	}

	r = p.mustRun("migrate", "up")
	wantContains(t, "second up", r.err, "up to date at version 3")

	p.mustRun("migrate", "down", "--yes")
	if n := p.scalar("SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'name'"); n.(int64) != 0 {
		t.Errorf("down left the column")
	}
	r = p.mustRun("migrate", "plan")
	wantContains(t, "plan", r.out, "00003_users_name.sql")
	wantContains(t, "plan", r.err, "at version 2: 1 pending")

	r = p.run("migrate", "down")
	if r.code != 2 || !strings.Contains(r.err, "roll back 1 migration(s) on") || !strings.Contains(r.err, "pass --yes") {
		t.Errorf("down without --yes and without a terminal: exit %d, want 2 naming the action\n%s", r.code, r.err)
	}
	// a dry run shows the plan and nothing that reads as done (finding 8 of
	// the operator-experience issue)
	r = p.mustRun("migrate", "down", "--dry-run")
	if !strings.Contains(r.out, "00002_") || strings.Contains(r.out, "ms") || strings.Contains(r.err, "now at version") ||
		!strings.Contains(r.err, "would go from version 2 to 1; nothing was changed") {
		t.Errorf("down --dry-run:\n%s%s", r.out, r.err)
	}
	p.mustRun("migrate", "up")
	r = p.mustRun("migrate", "redo", "--yes", "-o", "json")
	wantContains(t, "redo", r.out, `"direction": "down"`, `"direction": "up"`)
	if n := p.scalar("SELECT count(*) FROM deployctl_migrations WHERE state = 'applied'"); n.(int64) != 3 {
		t.Errorf("checksums recorded after redo: %v, want 3", n)
	}
	p.mustRun("migrate", "down", "--to", "0", "--yes")
	if n := p.scalar("SELECT count(*) FROM deployctl_migrations"); n.(int64) != 0 {
		t.Errorf("records left after down --to 0: %v", n)
	}
}

func TestUpToAndDryRun(t *testing.T) {
	p := newProject(t)
	p.write("00001_users.sql", m1)
	p.write("00002_orders.sql", m2)
	// versions complete from the folder, for resolve and --to (finding 10)
	if c := p.mustRun("__complete", "migrate", "resolve", "").out; !strings.Contains(c, "1\t00001_users.sql\n2\t00002_orders.sql\n") {
		t.Errorf("completion of resolve:\n%s", c)
	}
	if c := p.mustRun("__complete", "migrate", "down", "--to", "2").out; !strings.HasPrefix(c, "2\t00002_orders.sql\n") || strings.Contains(c, "00001") {
		t.Errorf("completion of down --to 2:\n%s", c)
	}
	r := p.mustRun("migrate", "up", "--dry-run")
	wantContains(t, "dry run", r.err, "dry run: nothing was changed")
	if ok := p.scalar("SELECT to_regclass('goose_db_version') IS NULL"); ok != true {
		t.Errorf("up --dry-run created goose's table")
	}
	p.mustRun("migrate", "up", "--to", "1")
	if v := p.scalar("SELECT max(version_id) FROM goose_db_version"); v.(int64) != 1 {
		t.Errorf("up --to 1 reached %v", v)
	}
}

func TestCreate(t *testing.T) {
	p := newProject(t)
	r := p.mustRun("migrate", "create", "Add users email")
	path := strings.TrimSpace(r.out)
	if !strings.HasSuffix(path, "_add_users_email.sql") {
		t.Fatalf("created %q", path)
	}
	p.write("00001_a.sql", m1)
	must(t, os.Remove(path))
	r = p.mustRun("migrate", "create", "next")
	if filepath.Base(strings.TrimSpace(r.out)) != "00002_next.sql" {
		t.Errorf("sequential folder: created %q", r.out)
	}
	r = p.mustRun("migrate", "validate", "--offline")
	wantContains(t, "validate of a new file", r.err, "ok: 2 file(s)")
}
