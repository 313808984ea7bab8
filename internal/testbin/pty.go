package testbin

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
)

// Terminal is a command run on a pseudo-terminal, as an operator runs it:
// stdin, stdout and stderr are the terminal, Ctrl-C is the terminal's.
type Terminal struct {
	t    testing.TB
	cmd  *exec.Cmd
	tty  *os.File
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	err  error
}

// StartTerminal starts cmd on a new pseudo-terminal of 120 columns.
func StartTerminal(t testing.TB, cmd *exec.Cmd) *Terminal {
	t.Helper()
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		t.Fatalf("start %v on a terminal: %v", cmd.Args, err)
	}
	term := &Terminal{t: t, cmd: cmd, tty: tty, done: make(chan struct{})}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := tty.Read(buf)
			term.mu.Lock()
			term.out.Write(buf[:n])
			term.mu.Unlock()
			if err != nil {
				break
			}
		}
		term.err = cmd.Wait()
		close(term.done)
	}()
	t.Cleanup(func() {
		select {
		case <-term.done:
		default:
			cmd.Process.Kill()
			<-term.done
		}
		tty.Close()
	})
	return term
}

// Output is what the terminal showed so far.
func (term *Terminal) Output() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.out.String()
}

// WaitFor waits up to 20 s until the terminal shows s.
func (term *Terminal) WaitFor(s string) {
	term.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(term.Output(), s) {
		if time.Now().After(deadline) {
			term.t.Fatalf("the terminal never showed %q:\n%s", s, term.Output())
		}
		select {
		case <-term.done:
			if !strings.Contains(term.Output(), s) {
				term.t.Fatalf("the command ended without showing %q:\n%s", s, term.Output())
			}
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Type types s, as the operator does (a newline is Enter, \x03 Ctrl-C).
func (term *Terminal) Type(s string) {
	term.t.Helper()
	if _, err := io.WriteString(term.tty, s); err != nil {
		term.t.Fatalf("type %q: %v", s, err)
	}
}

// Exit waits up to 20 s for the command to end and returns its exit code.
func (term *Terminal) Exit() int {
	term.t.Helper()
	select {
	case <-term.done:
	case <-time.After(20 * time.Second):
		term.t.Fatalf("still running:\n%s", term.Output())
	}
	var ee *exec.ExitError
	if errors.As(term.err, &ee) {
		return ee.ExitCode()
	}
	if term.err != nil {
		term.t.Fatalf("%v: %v", term.cmd.Args, term.err)
	}
	return 0
}
