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
	output string // StartRecorded's copy of the program's output
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

// Joined is the screen with the rows the terminal wrapped joined again: a
// line the program wrote wider than the pane is one line here, longer than
// the pane (Screen shows it as two rows). Trailing blanks of each line cut.
func (x *Tmux) Joined() string {
	x.t.Helper()
	lines := strings.Split(strings.TrimRight(x.tmux("capture-pane", "-p", "-J"), "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

// StartRecorded is Start with everything the program writes to the
// terminal, escape sequences included, copied into a file from its first
// byte on (Output reads it): the program waits until the copy is on.
func StartRecorded(t testing.TB, width, height int, dir string, env []string, argv ...string) *Tmux {
	t.Helper()
	tmp := t.TempDir()
	gate, out := filepath.Join(tmp, "gate"), filepath.Join(tmp, "output")
	wrapped := append([]string{"sh", "-c", `while [ ! -e "$0" ]; do sleep 0.02; done; exec "$@"`, gate}, argv...)
	x := Start(t, width, height, dir, env, wrapped...)
	x.output = out
	x.tmux("pipe-pane", "-o", "cat >> '"+out+"'")
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return x
}

// Output is what the program of StartRecorded wrote to the terminal so far.
func (x *Tmux) Output() string {
	x.t.Helper()
	if x.output == "" {
		x.t.Fatal("Output: the program was not started with StartRecorded")
	}
	b, err := os.ReadFile(x.output)
	if err != nil && !os.IsNotExist(err) {
		x.t.Fatal(err)
	}
	return string(b)
}

// Play shows b, as a program would write it, in a new width×height pane
// and returns that pane once all of b is on its screen (the alternate
// screen, when b enters it and does not leave it).
func Play(t testing.TB, width, height int, b string) *Tmux {
	t.Helper()
	f := filepath.Join(t.TempDir(), "play")
	if err := os.WriteFile(f, []byte(b), 0o644); err != nil {
		t.Fatal(err)
	}
	// the title, which is not on the screen, says when cat is done
	x := Start(t, width, height, t.TempDir(), []string{"PATH=/usr/bin:/bin", "TERM=screen"}, "sh", "-c", `cat "$0"; printf '\033]2;played\007'; sleep 600`, f)
	deadline := time.Now().Add(20 * time.Second)
	for strings.TrimSpace(x.tmux("display-message", "-p", "#{pane_title}")) != "played" {
		if time.Now().After(deadline) {
			t.Fatalf("the terminal never played the bytes:\n%s", x.Screen())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return x
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
