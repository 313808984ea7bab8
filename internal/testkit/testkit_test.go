package testkit

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// recorder is a testing.TB that notes failures instead of stopping.
type recorder struct {
	testing.TB
	failed bool
	msg    string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Errorf(string, ...any)     { r.failed = true }
func (r *recorder) Fatalf(f string, a ...any) { r.failed = true; r.msg = f; panic(r) }
func (r *recorder) Fatal(a ...any)            { r.failed = true; panic(r) }

func failsWith(t *testing.T, fn func(tb testing.TB)) bool {
	t.Helper()
	r := &recorder{TB: t}
	func() {
		defer func() {
			if p := recover(); p != nil && p != r {
				panic(p)
			}
		}()
		fn(r)
	}()
	return r.failed
}

func TestWaitForFailsWhenTheConditionNeverHolds(t *testing.T) {
	if !failsWith(t, func(tb testing.TB) { WaitFor(tb, "never", 20*time.Millisecond, func() bool { return false }) }) {
		t.Fatal("WaitFor passed a condition that never held")
	}
	n := 0
	if failsWith(t, func(tb testing.TB) { WaitFor(tb, "third poll", time.Second, func() bool { n++; return n == 3 }) }) {
		t.Fatal("WaitFor failed a condition that held on the third poll")
	}
}

func TestGoldenWritesWithUpdateAndComparesOtherwise(t *testing.T) {
	dir := t.TempDir()
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	*Update = true
	Golden(t, "x.golden", "one\n")
	*Update = false
	if b, err := os.ReadFile(filepath.Join(dir, "testdata", "x.golden")); err != nil || string(b) != "one\n" {
		t.Fatalf("-update wrote %q, %v", b, err)
	}
	if failsWith(t, func(tb testing.TB) { Golden(tb, "x.golden", []byte("one\n")) }) {
		t.Error("Golden failed on equal content")
	}
	if !failsWith(t, func(tb testing.TB) { Golden(tb, "x.golden", "two\n") }) {
		t.Error("Golden passed different content")
	}
	if !failsWith(t, func(tb testing.TB) { Golden(tb, "missing.golden", "x") }) {
		t.Error("Golden passed a missing file")
	}
}

func TestProjectWritesNestedFiles(t *testing.T) {
	dir := Project(t, map[string]string{"environments/development.yaml": "a: 1\n", "migrations/00001_init.sql": "-- up\n"})
	for name, want := range map[string]string{"environments/development.yaml": "a: 1\n", "migrations/00001_init.sql": "-- up\n"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
}
