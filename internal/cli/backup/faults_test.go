package backup_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// slowSQL makes a restore slow on the server, not on the client: each row
// of slow is checked by a function that sleeps 1 ms (while the data loads)
// and indexed by another (while the indexes are built), about 4 s each.
// A backend works on for its client like that after the client is gone.
const slowSQL = seedSQL + `
CREATE FUNCTION slow_check(int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS 'BEGIN PERFORM pg_sleep(0.001); RETURN true; END';
CREATE FUNCTION slow_key(int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS 'BEGIN PERFORM pg_sleep(0.001); RETURN $1; END';
CREATE TABLE slow (id int CHECK (public.slow_check(id)));
INSERT INTO slow SELECT g FROM generate_series(1, 3500) g;
CREATE INDEX slow_key_idx ON slow (public.slow_key(id));`

// TestKilledRestoreLeavesNoWork kills deployctl (SIGKILL) during a restore's
// data and during its index build: 2 s later no session works on the target
// (pg_restore -j's workers die with it), and the next restore names the
// half-restored target and refuses it without --clean.
func TestKilledRestoreLeavesNoWork(t *testing.T) {
	p := newProject(t, "")
	p.exec(p.url, slowSQL)
	p.mustRun("backup", "create")
	points := []struct{ name, activity string }{
		{"during the data", "query LIKE 'COPY public.slow %'"},
		{"during the index build", "query LIKE 'CREATE INDEX slow_key_idx %'"},
	}
	for _, pt := range points {
		t.Run(pt.name, func(t *testing.T) {
			target := pg.NewDatabase(t)
			q := "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND " + pt.activity
			p.t = t
			p.killDuring("pg_restore "+pt.name, func() bool { return scalar(t, target, q) > 0 },
				"backup", "restore", "latest", "--target-url", target, "--yes", "-j", "2")
			// clients only: an autovacuum worker the restore's COPY woke is the
			// server's own, not a session of the restore
			others := "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'deployctl-restore-%'" // the restore's own (the test's earlier checks may still be closing)
			// well under the 2 s here (about 0.5 s, logged below); the
			// bound is 10 s because CI's two loaded cores have needed more, and
			// a test asserts behaviour, not speed
			killedAt := time.Now()
			deadline := time.Now().Add(10 * time.Second)
			for time.Now().Before(deadline) && scalar(t, target, others) > 0 {
				time.Sleep(50 * time.Millisecond)
			}
			t.Logf("the restore's sessions were gone %s after the kill", time.Since(killedAt).Round(10*time.Millisecond))
			if n := scalar(t, target, others); n > 0 {
				t.Fatalf("10 s after deployctl was killed, %d sessions still work on the target", n)
			}
			r := p.run("backup", "restore", "latest", "--target-url", target, "--yes")
			if r.code != 1 || !strings.Contains(r.err, "was left half-restored by alice at ") || !strings.Contains(r.err, "re-run with --clean") {
				t.Errorf("restore into the half-restored target: exit %d, %s", r.code, r.err)
			}
			r = p.mustRun("backup", "list")
			if !strings.Contains(r.err, "was left half-restored by alice") {
				t.Errorf("list does not name the half-restored target:\n%s", r.err)
			}
			p.mustRun("backup", "restore", "latest", "--target-url", target, "--clean", "--yes")
			if n := scalar(t, target, "SELECT count(*) FROM slow"); n != 3500 {
				t.Errorf("restore --clean after the kill: %d rows", n)
			}
			if n := scalar(t, target, "SELECT count(*) FROM pg_class WHERE relname = 'deployctl_restore_in_progress'"); n != 0 {
				t.Error("the marker is left after a finished restore")
			}
			if r := p.mustRun("backup", "list"); strings.Contains(r.err, "half-restored") {
				t.Errorf("list still warns after a finished restore:\n%s", r.err)
			}
		})
	}
}

// TestRestoreRefusesAnEditedManifestCLI: restore checks manifest_sha256
// before anything, and says what verify says.
func TestRestoreRefusesAnEditedManifestCLI(t *testing.T) {
	p := newProject(t, "")
	p.exec(p.url, seedSQL)
	id := strings.TrimSpace(p.mustRun("backup", "create").out)
	file := filepath.Join(p.dir, "backups", id, "manifest.json")
	raw, err := os.ReadFile(file)
	must(t, err)
	must(t, os.WriteFile(file, bytes.Replace(raw, []byte(`"rows": 300`), []byte(`"rows": 299`), 1), 0o600))
	v := p.run("backup", "verify", id, "--level", "checksum")
	target := pg.NewDatabase(t)
	r := p.run("backup", "restore", id, "--target-url", target, "--yes")
	const msg = "manifest_sha256 does not match"
	if v.code != 1 || !strings.Contains(v.err, msg) || r.code != 1 || !strings.Contains(r.err, msg) {
		t.Errorf("edited manifest: verify exit %d %q; restore exit %d %q", v.code, v.err, r.code, r.err)
	}
	if n := scalar(t, target, "SELECT count(*) FROM pg_class WHERE relname IN ('users', 'orders')"); n != 0 {
		t.Errorf("the target was touched: %d tables", n)
	}
}

// TestVerifyLatestIsTheNewestFolder: a broken or missing manifest in the
// newest backup fails verify latest instead of verifying the previous one;
// a folder without a manifest younger than the grace is a create in
// progress.
func TestVerifyLatestIsTheNewestFolder(t *testing.T) {
	p := newProject(t, "")
	p.exec(p.url, seedSQL)
	now := time.Now().UTC()
	backupAt(t, p, now.Add(-2*time.Hour))
	newest := backupAt(t, p, now.Add(-90*time.Minute))
	dir := filepath.Join(p.dir, "backups", newest.ID)
	manifest := filepath.Join(dir, "manifest.json")
	raw, err := os.ReadFile(manifest)
	must(t, err)

	must(t, os.WriteFile(manifest, raw[:len(raw)/2], 0o600))
	code, _, errOut := runIn(p, now, false, "verify", "latest", "--level", "checksum")
	if code != 1 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, newest.ID) || !strings.Contains(errOut, "cannot be read") {
		t.Errorf("broken newest manifest: exit %d, stderr %q", code, errOut)
	}

	must(t, os.Remove(manifest))
	code, _, errOut = runIn(p, now, false, "verify", "latest", "--level", "checksum")
	if code != 0 {
		t.Errorf("a folder without a manifest written just now (a create in progress): exit %d, stderr %q", code, errOut)
	}
	old := now.Add(-90 * time.Minute)
	must(t, filepath.Walk(dir, func(path string, _ os.FileInfo, err error) error {
		if err == nil {
			err = os.Chtimes(path, old, old)
		}
		return err
	}))
	code, _, errOut = runIn(p, now, false, "verify", "latest", "--level", "checksum")
	if code != 1 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, newest.ID) || !strings.Contains(errOut, "incomplete") {
		t.Errorf("newest folder without a manifest for 90 min: exit %d, stderr %q", code, errOut)
	}
}

// TestPruneBesideARunningVerify runs prune --apply while a verify restores
// the backup it would delete: prune keeps it (kept by its lease), and the
// verify succeeds and says so truthfully.
func TestPruneBesideARunningVerify(t *testing.T) {
	p := newProject(t, "")
	p.exec(p.url, bigSQL)
	old := backupAt(t, p, time.Now().Add(-72*time.Hour))
	p.mustRun("backup", "create")
	verify := p.command("backup", "verify", old.ID, "-o", "json")
	var vout, verr bytes.Buffer
	verify.Stdout, verify.Stderr = &vout, &verr
	must(t, verify.Start())
	waitFor(t, "the verify to restore", func() bool {
		return scalar(t, p.url, "SELECT count(*) FROM pg_stat_activity WHERE starts_with(datname, 'deployctl_verify_') AND query LIKE 'COPY %'") > 0
	})
	r := p.mustRun("backup", "prune", "--keep-daily", "0", "--keep-weekly", "0", "--keep-monthly", "0", "--apply", "--yes", "-o", "json")
	vErr := verify.Wait()
	var pr struct {
		Backups []struct {
			ID      string   `json:"id"`
			Keep    bool     `json:"keep"`
			KeptBy  []string `json:"kept_by"`
			Reasons []string `json:"reasons"`
		} `json:"backups"`
	}
	must(t, json.Unmarshal([]byte(r.out), &pr))
	kept := false
	for _, b := range pr.Backups {
		if b.ID == old.ID {
			kept = b.Keep && strings.Join(b.KeptBy, ",") == "lease" && strings.Contains(strings.Join(b.Reasons, " "), "being read by backup verify")
		}
	}
	if !kept {
		t.Errorf("prune beside the verify of %s: %s", old.ID, r.out)
	}
	var rep struct {
		OK           bool `json:"ok"`
		Verification *struct {
			OK bool `json:"ok"`
		} `json:"verification"`
	}
	_ = json.Unmarshal(vout.Bytes(), &rep)
	if vErr != nil || !rep.OK || rep.Verification == nil || !rep.Verification.OK {
		t.Fatalf("the verify beside the prune: %v, %s %s", vErr, vout.String(), verr.String())
	}
	l := p.list()
	found := false
	for _, b := range l.Backups {
		found = found || b.ID == old.ID && b.Verification != nil && b.Verification.OK
	}
	if !found {
		t.Errorf("the verified backup is gone or its result not stored: %+v", l.Backups)
	}
	if n := scalar(t, p.url, "SELECT count(*) FROM pg_database WHERE starts_with(datname, 'deployctl_verify_')"); n != 0 {
		t.Errorf("%d scratch databases left", n)
	}
}
