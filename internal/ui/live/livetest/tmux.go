// Package livetest runs programs in a real virtual terminal for tests: a
// private tmux server (scripts/deps installs tmux), its screen read with
// capture-pane, keys sent with send-keys, the exit status kept after the
// program ends.
package livetest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Tmux is one program in a tmux pane of a fixed size.
type Tmux struct {
	t      testing.TB
	socket string
}

// Start runs argv in dir, with env as its whole environment, in a detached
// tmux pane of width×height; the server is killed when the test ends.
func Start(t testing.TB, width, height int, dir string, env []string, argv ...string) *Tmux {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatalf("tmux not found: install the Debian package tmux (scripts/deps): %v", err)
	}
	tmp := t.TempDir()
	conf := filepath.Join(tmp, "tmux.conf")
	if err := os.WriteFile(conf, []byte("set -g remain-on-exit on\nset -g status off\nset -g history-limit 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	x := &Tmux{t: t, socket: filepath.Join(tmp, "sock")}
	args := append([]string{"-S", x.socket, "-f", conf, "new-session", "-d", "-x", strconv.Itoa(width), "-y", strconv.Itoa(height), "-c", dir, "--"}, argv...)
	cmd := exec.Command("tmux", args...)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session %v: %v\n%s", argv, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("tmux", "-S", x.socket, "kill-server").Run() })
	return x
}

func (x *Tmux) tmux(args ...string) string {
	x.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", x.socket}, args...)...).CombinedOutput()
	if err != nil {
		x.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// Screen is what the pane shows now, one line per row, trailing blanks cut.
func (x *Tmux) Screen() string {
	x.t.Helper()
	return strings.TrimRight(x.tmux("capture-pane", "-p"), "\n")
}

// WaitFor waits up to 20 s until the screen satisfies ok and returns it.
func (x *Tmux) WaitFor(what string, ok func(screen string) bool) string {
	x.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := x.Screen()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			x.t.Fatalf("the terminal never showed %s:\n%s", what, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitForText waits until the screen contains s.
func (x *Tmux) WaitForText(s string) string {
	x.t.Helper()
	return x.WaitFor(fmt.Sprintf("%q", s), func(screen string) bool { return strings.Contains(screen, s) })
}

// Keys types keys as tmux send-keys names them ("C-c", "Enter", "q").
func (x *Tmux) Keys(keys ...string) {
	x.t.Helper()
	x.tmux(append([]string{"send-keys"}, keys...)...)
}

// Resize makes the pane width×height, as an operator resizing the window.
func (x *Tmux) Resize(width, height int) {
	x.t.Helper()
	x.tmux("resize-window", "-x", strconv.Itoa(width), "-y", strconv.Itoa(height))
}

// Exit waits up to 20 s for the program to end and returns its exit status.
func (x *Tmux) Exit() int {
	x.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		f := strings.Fields(x.tmux("display-message", "-p", "#{pane_dead} #{pane_dead_status}"))
		if len(f) == 2 && f[0] == "1" {
			code, _ := strconv.Atoi(f[1])
			return code
		}
		if time.Now().After(deadline) {
			x.t.Fatalf("still running:\n%s", x.Screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Mode is whether the pane is on its alternate screen (1) or not (0), and
// whether the cursor is shown, as tmux tracks them.
func (x *Tmux) Mode() (alternate, cursor bool) {
	x.t.Helper()
	f := strings.Fields(x.tmux("display-message", "-p", "#{alternate_on} #{cursor_flag}"))
	return len(f) == 2 && f[0] == "1", len(f) == 2 && f[1] == "1"
}
