package backup_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/deployctl/deployctl/pkg/backup"
)

// corrupt damages a fresh backup's files and checks that verify at every
// level fails with a message naming the problem.
func TestVerifyFindsCorruption(t *testing.T) {
	url := pg.NewDatabase(t)
	seed(t, url, 2000)
	cases := []struct {
		name   string
		damage func(t *testing.T, dir string, m *backup.Manifest)
		want   map[string]string // level → words in a problem
	}{
		{"flipped byte at the start", flip(0.0), allLevels("corrupted")},
		{"flipped byte in the middle", flip(0.5), allLevels("corrupted")},
		{"flipped last byte", flip(1.0), allLevels("corrupted")},
		{"truncated dump", truncate, allLevels("truncated")},
		{"missing dump", remove, allLevels("missing")},
		{"changed manifest", editManifest, map[string]string{
			backup.LevelChecksum: "manifest", backup.LevelArchive: "manifest", backup.LevelRestore: "the manifest says 1999"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, st := newEngine(t)
			m := mustCreate(t, e, url)
			tc.damage(t, st.Dir, m)
			for _, level := range []string{backup.LevelChecksum, backup.LevelArchive, backup.LevelRestore} {
				got, err := backup.Load(t.Context(), st, m.ID)
				if err != nil {
					t.Fatal(err)
				}
				res, err := e.Verify(t.Context(), got, backup.VerifyOptions{Level: level, ServerURL: url})
				if err != nil {
					t.Fatalf("verify %s: %v", level, err)
				}
				t.Logf("%s: %q", level, res.Problems)
				if res.Verification.OK || !strings.Contains(strings.Join(res.Problems, "\n"), tc.want[level]) {
					t.Errorf("verify %s: ok=%v problems %q, want one naming %q", level, res.Verification.OK, res.Problems, tc.want[level])
				}
			}
			list, _ := backup.List(t.Context(), st)
			if v := list[0].Verification; v == nil || v.OK {
				t.Errorf("the failed verification is not stored: %+v", v)
			}
			if n, _ := queryInt(t.Context(), url, "SELECT count(*) FROM pg_database WHERE datname LIKE 'deployctl_verify_%'"); n != 0 {
				t.Errorf("%d scratch databases left after failed verifies", n)
			}
		})
	}
}

func allLevels(word string) map[string]string {
	return map[string]string{backup.LevelChecksum: word, backup.LevelArchive: word, backup.LevelRestore: word}
}

func dumpFile(dir string, m *backup.Manifest) string {
	return filepath.Join(dir, filepath.FromSlash(m.Object))
}

func flip(at float64) func(t *testing.T, dir string, m *backup.Manifest) {
	return func(t *testing.T, dir string, m *backup.Manifest) {
		p := dumpFile(dir, m)
		b, err := os.ReadFile(p)
		must(t, err)
		i := int(at * float64(len(b)-1))
		b[i] ^= 0x01
		must(t, os.WriteFile(p, b, 0o600))
	}
}

func truncate(t *testing.T, dir string, m *backup.Manifest) {
	must(t, os.Truncate(dumpFile(dir, m), m.SizeBytes*2/3))
}

func remove(t *testing.T, dir string, m *backup.Manifest) {
	must(t, os.Remove(dumpFile(dir, m)))
}

// editManifest lowers a row count: valid JSON, but not what was written.
func editManifest(t *testing.T, dir string, m *backup.Manifest) {
	p := filepath.Join(dir, m.ID, backup.ManifestObject)
	raw, err := os.ReadFile(p)
	must(t, err)
	var doc map[string]any
	must(t, json.Unmarshal(raw, &doc))
	for _, tb := range doc["tables"].([]any) {
		if tb.(map[string]any)["name"] == "users" {
			tb.(map[string]any)["rows"] = 1999
		}
	}
	raw, _ = json.Marshal(doc)
	must(t, os.WriteFile(p, raw, 0o600))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestVerifyDropsOnlyAbandonedScratch: a verify drops the scratch databases
// of killed verifies, and none that a running verify uses or is creating.
func TestVerifyDropsOnlyAbandonedScratch(t *testing.T) {
	url := pg.NewDatabase(t)
	seed(t, url, 10)
	e, _ := newEngine(t)
	m := mustCreate(t, e, url)
	ctx := t.Context()
	const (
		abandoned = "deployctl_verify_20260101t000000z_dead"
		inUse     = "deployctl_verify_20260101t000000z_used" // a running verify is connected
		creating  = "deployctl_verify_20260101t000000z_lock" // a verify holds its name's lock
		other     = "app_deployctl_verify_x"                 // not a scratch database
	)
	for _, name := range []string{abandoned, inUse, creating, other} {
		if err := pg.Exec(ctx, "postgres", "CREATE DATABASE "+name); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = pg.Exec(context.Background(), "postgres", "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	}
	user, err := pgConnect(ctx, pg.URL(inUse))
	if err != nil {
		t.Fatal(err)
	}
	defer user.Close(context.Background())
	locker, err := pgConnect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close(context.Background())
	if _, err := locker.Exec(ctx, "SELECT pg_advisory_lock(hashtextextended($1, 0))", creating); err != nil {
		t.Fatal(err)
	}
	res, err := e.Verify(ctx, m, backup.VerifyOptions{Level: backup.LevelRestore, ServerURL: url})
	if err != nil || !res.Verification.OK {
		t.Fatalf("verify: %+v, %v", res, err)
	}
	if len(res.CleanedUp) != 1 || res.CleanedUp[0] != abandoned {
		t.Fatalf("dropped %v, want only %s", res.CleanedUp, abandoned)
	}
	rows, err := user.Query(ctx, "SELECT datname FROM pg_database WHERE datname LIKE '%deployctl_verify%' ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	left, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if want := []string{other, creating, inUse}; err != nil || strings.Join(left, ",") != strings.Join(want, ",") {
		t.Fatalf("databases left: %v (%v), want %v: the verify's own scratch gone, the others kept", left, err, want)
	}
}
