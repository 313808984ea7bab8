package statefs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/providertest"
)

func TestLockerSuite(t *testing.T) {
	providertest.TestLocker(t, func(t *testing.T) provider.Locker { return &Locker{Dir: t.TempDir()} })
}

func TestStateStoreSuite(t *testing.T) {
	providertest.TestStateStore(t, func(t *testing.T) provider.StateStore { return &Store{Dir: t.TempDir()} })
}

func TestHistoryLogSuite(t *testing.T) {
	providertest.TestHistoryLog(t, func(t *testing.T) provider.HistoryLog { return &History{Dir: t.TempDir()} })
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func TestPermissionsAndNoTempFilesLeft(t *testing.T) {
	root := filepath.Join(t.TempDir(), "env")
	s, h, l := &Store{Dir: filepath.Join(root, "state")}, &History{Dir: root}, &Locker{Dir: root}
	if err := s.Save(t.Context(), "rollout", []byte("{}"), ""); err != nil {
		t.Fatal(err)
	}
	if err := h.Append(t.Context(), provider.Entry{Command: "x", Result: "ok"}); err != nil {
		t.Fatal(err)
	}
	rel, err := l.Acquire(t.Context(), provider.Holder{Actor: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	defer rel()
	for _, p := range []string{root, s.Dir} {
		if m := mode(t, p); m != 0o700 {
			t.Errorf("%s: mode %o, want 700", p, m)
		}
	}
	for _, p := range []string{s.Path("rollout"), h.Path(), l.holderPath(), l.lockPath()} {
		if m := mode(t, p); m != 0o600 {
			t.Errorf("%s: mode %o, want 600", p, m)
		}
	}
	tmps, _ := filepath.Glob(filepath.Join(s.Dir, ".*.tmp-*"))
	if len(tmps) != 0 {
		t.Errorf("temporary files left behind: %v", tmps)
	}
}

func TestInvalidKeyRefused(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	for _, k := range []string{"../x", "a/b", "", "UPPER"} {
		if err := s.Save(t.Context(), k, []byte("{}"), ""); err == nil {
			t.Errorf("Save(%q) accepted", k)
		}
	}
}

func TestHistorySkipsLineCutShortByCrash(t *testing.T) {
	h := &History{Dir: t.TempDir()}
	if err := h.Append(t.Context(), provider.Entry{Command: "a", Result: "ok"}); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(h.Path(), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"command":"half`)
	f.Close()
	if err := h.Append(t.Context(), provider.Entry{Command: "b", Result: "ok"}); err != nil {
		t.Fatal(err)
	}
	got, err := h.List(t.Context(), provider.Filter{})
	if err != nil || len(got) != 2 || got[0].Command != "a" || got[1].Command != "b" {
		t.Fatalf("List = %+v, %v; want entries a and b", got, err)
	}
}

// TestMain lets the test binary play a deployctl process that takes the
// lock and is then killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv("STATEFS_HOLD_LOCK"); dir != "" {
		l := &Locker{Dir: dir}
		if _, err := l.Acquire(context.Background(), provider.Holder{Actor: "crashed", PID: os.Getpid(), Command: "rollout green"}); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("locked")
		time.Sleep(time.Hour)
	}
	os.Exit(m.Run())
}

func TestLockOfKilledProcessIsTakenOverWithNote(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "STATEFS_HOLD_LOCK="+dir)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := out.Read(buf); err != nil || string(buf) != "locked" {
		t.Fatalf("helper did not lock: %q %v", buf, err)
	}
	l := &Locker{Dir: dir}
	_, err := l.Acquire(t.Context(), provider.Holder{Actor: "ann"})
	var le *provider.LockedError
	if !errors.As(err, &le) || le.Holder.Actor != "crashed" || le.Holder.PID != cmd.Process.Pid {
		t.Fatalf("while the holder lives: %v", err)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	var notes []string
	l.Notef = func(f string, a ...any) { notes = append(notes, fmt.Sprintf(f, a...)) }
	rel, err := l.Acquire(t.Context(), provider.Holder{Actor: "ann"})
	if err != nil {
		t.Fatalf("after the holder died: %v", err)
	}
	defer rel()
	if len(notes) != 1 || !strings.Contains(notes[0], "crashed") || !strings.Contains(notes[0], fmt.Sprint(cmd.Process.Pid)) {
		t.Fatalf("take-over note = %q", notes)
	}
}
