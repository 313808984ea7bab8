package backup_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// reachableTemp is a temporary folder the postgres OS user can reach: the
// tests run as root and t.TempDir's parents are private to root.
func reachableTemp(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "a2cli")
	must(t, err)
	must(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func TestBaseCreateListVerifyRestore(t *testing.T) {
	p := newProject(t, "")
	p.exec(p.url, seedSQL)
	p.env = append(p.env, "TMPDIR="+reachableTemp(t))
	// the scratch server of verify runs as postgres and runs deployctl (its
	// restore_command): the binary and the project must be reachable
	openUp(t, filepath.Dir(bin))
	openUp(t, p.dir)

	logical := strings.TrimSpace(p.mustRun("backup", "create").out)
	r := p.mustRun("backup", "create", "--type", "base", "--label", "nightly")
	id := strings.TrimSpace(r.out)
	if !strings.Contains(r.err, "base backup "+id) || !strings.Contains(r.err, "timeline 1") {
		t.Errorf("create --type base summary: %q", r.err)
	}
	var l struct {
		Backups []struct{ ID, Type string }
	}
	must(t, json.Unmarshal([]byte(p.mustRun("backup", "list", "-o", "json").out), &l))
	types := map[string]string{}
	for _, b := range l.Backups {
		types[b.ID] = b.Type
	}
	if types[id] != "base" || types[logical] != "logical" {
		t.Errorf("list types: %+v", l)
	}
	if out := p.mustRun("backup", "list").out; !strings.Contains(out, "TYPE") || !strings.Contains(out, " base ") {
		t.Errorf("list table:\n%s", out)
	}

	r = p.mustRun("backup", "verify", "--type", "base")
	if r.out != "" || r.err != "" {
		t.Errorf("verify --type base is not silent on success:\nstdout: %q\nstderr: %q", r.out, r.err)
	}
	var v struct {
		ID           string
		OK           bool
		Verification struct{ Level, Detail string }
	}
	must(t, json.Unmarshal([]byte(p.mustRun("backup", "verify", "--type", "base", "--level", "checksum", "-o", "json").out), &v))
	if v.ID != id || !v.OK || v.Verification.Level != "checksum" {
		t.Errorf("verify --type base -o json: %+v", v)
	}

	// a migration rehearsal restores a logical dump: never a base backup,
	// not even the newest verified one
	must(t, os.MkdirAll(filepath.Join(p.dir, "migrations"), 0o755))
	must(t, os.WriteFile(filepath.Join(p.dir, "migrations", "00001_t.sql"), []byte("-- +goose Up\nCREATE TABLE t (id int);\n-- +goose Down\nDROP TABLE t;\n"), 0o644))
	if r := p.run("migrate", "rehearse", "--from-backup", id); r.code == 0 || !strings.Contains(r.err, "is a base backup") {
		t.Errorf("rehearse on a base backup: exit %d, %s", r.code, r.err)
	}
	if r := p.run("migrate", "rehearse", "--from-backup", "latest"); r.code == 0 || !strings.Contains(r.err, "no verified logical backup") {
		t.Errorf("rehearse on latest with only the base backup verified: exit %d, %s", r.code, r.err)
	}

	full := filepath.Join(reachableTemp(t), "full")
	must(t, os.MkdirAll(full, 0o700))
	must(t, os.WriteFile(filepath.Join(full, "PG_VERSION"), []byte("15\n"), 0o600))
	r = p.run("backup", "restore", "--type", "base", "--to-latest", "--data-dir", full)
	if r.code != 2 || !strings.Contains(r.err, "not empty") {
		t.Errorf("restore into a non-empty folder: exit %d, %s", r.code, r.err)
	}

	dir := filepath.Join(reachableTemp(t), "pitr")
	r = p.mustRun("backup", "restore", "--type", "base", "--to-time", "2099-01-01T00:00:00Z", "--pause", "--data-dir", dir)
	if strings.TrimSpace(r.out) != dir || !strings.Contains(r.err, "not started") || !strings.Contains(r.err, id) {
		t.Errorf("restore --type base: %q %q", r.out, r.err)
	}
	conf, err := os.ReadFile(filepath.Join(dir, "postgresql.auto.conf"))
	must(t, err)
	cfgDir, _ := filepath.Abs(filepath.Join(p.dir, "environments"))
	want := "restore_command = '" + bin + " --config-dir " + cfgDir + " --env development wal fetch %f %p'"
	for _, line := range []string{want, "recovery_target_time = '2099-01-01 00:00:00+00'", "recovery_target_action = 'pause'"} {
		if !strings.Contains(string(conf), line) {
			t.Errorf("postgresql.auto.conf lacks %q:\n%s", line, conf)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "recovery.signal")); err != nil {
		t.Error(err)
	}
}

// openUp makes dir and its parents up to /tmp traversable by others.
func openUp(t *testing.T, dir string) {
	t.Helper()
	for d := dir; d != "/" && d != os.TempDir() && d != "."; d = filepath.Dir(d) {
		must(t, os.Chmod(d, 0o755))
	}
}

// A logical restore of latest takes the newest dump, not a newer base
// backup; a base backup named to a logical restore is refused with what
// to run instead.
func TestLogicalRestoreSkipsBaseBackups(t *testing.T) {
	p := newProject(t, "")
	p.exec(p.url, seedSQL)
	logical := strings.TrimSpace(p.mustRun("backup", "create").out)
	base := strings.TrimSpace(p.mustRun("backup", "create", "--type", "base").out)
	target := pg.NewDatabase(t)
	r := p.mustRun("backup", "restore", "latest", "--target-url", target, "--yes", "-o", "json")
	if !strings.Contains(r.out, logical) || scalar(t, target, "SELECT count(*) FROM orders") != 600 {
		t.Errorf("restore latest: %s", r.out)
	}
	r = p.run("backup", "restore", base, "--target-url", pg.NewDatabase(t), "--yes")
	if r.code == 0 || !strings.Contains(r.err, "--type base") {
		t.Errorf("logical restore of a base backup: exit %d, %s", r.code, r.err)
	}
}
