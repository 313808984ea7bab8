package checklist

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Shell runs the configured commands of the checks.
type Shell struct {
	Dir string   // working folder: the project's root
	Env []string // the process environment; nil inherits it
	// Now times the commands; nil is time.Now (tests fix it for golden files).
	Now func() time.Time
}

func (s Shell) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// ran is what a command did.
type ran struct {
	script string
	code   int // -1 when it could not start or was killed
	tail   string
	took   time.Duration
	err    error // could not start, or killed by the context
}

// run runs script with sh -c; on a deadline it kills the whole process
// group, so a test runner's children do not outlive the checklist.
func (s Shell) run(ctx context.Context, script string) ran {
	cmd := exec.CommandContext(ctx, "sh", "-c", script)
	cmd.Dir, cmd.Env = s.Dir, s.Env
	out := &tailBuffer{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	start := s.now()
	err := cmd.Run()
	r := ran{script: script, code: 0, tail: lastLines(out.String(), 15), took: s.now().Sub(start)}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		r.code, r.err = -1, ctx.Err()
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		r.code, r.err = -1, err
	}
	return r
}

// evidence says what ran, where, and how it ended.
func (r ran) evidence(dir string) []string {
	line := fmt.Sprintf("ran `%s` in %s: ", r.script, dir)
	switch {
	case r.err != nil:
		line += fmt.Sprintf("%v after %s", r.err, round(r.took))
	default:
		line += fmt.Sprintf("exit %d after %s", r.code, round(r.took))
	}
	ev := []string{line}
	if r.code != 0 && r.tail != "" {
		ev = append(ev, "last lines of output:\n"+r.tail)
	}
	return ev
}

func round(d time.Duration) time.Duration {
	if d > time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
