// Package testkit holds the helpers every test package needs: golden files
// rewritten with -update, and waiting for a condition instead of sleeping.
package testkit

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Update is the -update flag of every test binary that imports testkit:
// Golden rewrites the golden files instead of comparing with them.
var Update = flag.Bool("update", false, "rewrite the golden files in testdata")

// Golden compares got with testdata/name, or writes it there with -update.
func Golden[T string | []byte](t testing.TB, name string, got T) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *Update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test with -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs (check it, then go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// WaitFor polls cond until it holds, failing the test naming what after
// limit. The poll backs off from 1 ms to 50 ms: quick for conditions that
// hold soon, cheap for those that take seconds.
func WaitFor(t testing.TB, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	pause := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", limit, what)
		}
		time.Sleep(pause)
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// WriteFiles writes files (slash-separated path → content) under dir,
// making the folders they need.
func WriteFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// Project is a new operator's project folder holding files, e.g.
// {"environments/development.yaml": "…", "migrations/00001_a.sql": "…"}.
func Project(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	WriteFiles(t, dir, files)
	return dir
}
