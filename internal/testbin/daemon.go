package testbin

import (
	"bytes"
	"fmt"
	"net/http"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Daemon is a background process of a test: started, waited for until it
// answers, and stopped when the test ends.
type Daemon struct {
	Cmd  *exec.Cmd
	out  syncBuffer
	done chan struct{}
	err  error // of Wait, once done is closed
}

// StartDaemon starts cmd (its output kept for Output) and waits until
// health answers an HTTP GET with any status, failing the test if the
// process exits first or does not answer within 15 s. It is stopped with
// SIGTERM, and killed 5 s later, when the test ends.
func StartDaemon(t testing.TB, cmd *exec.Cmd, health string) *Daemon {
	t.Helper()
	d := &Daemon{Cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &d.out, &d.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.err = cmd.Wait(); close(d.done) }()
	t.Cleanup(func() { _ = d.Stop() })
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for pause := time.Millisecond; ; pause = min(2*pause, 50*time.Millisecond) {
		select {
		case <-d.done:
			t.Fatalf("%s exited before answering %s: %s", cmd.Path, health, d.Output())
		default:
		}
		if resp, err := client.Get(health); err == nil {
			resp.Body.Close()
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer %s within 15s: %s", cmd.Path, health, d.Output())
		}
		time.Sleep(pause)
	}
}

// DemoSlot starts the demo-api binary at bin as slot (blue, green) on
// addr (host:port), answering version; extra are more demo-api flags.
func DemoSlot(t testing.TB, bin, dir, slot, addr, version string, extra ...string) *Daemon {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--listen", addr, "--version-name", version, "--slot", slot}, extra...)...)
	cmd.Dir, cmd.Env = dir, OperatorEnv(dir)
	return StartDaemon(t, cmd, fmt.Sprintf("http://%s/health", addr))
}

// Stop sends SIGTERM, kills the process after 5 s, and returns how it
// ended (nil for exit 0). Stopping twice is harmless.
func (d *Daemon) Stop() error {
	select {
	case <-d.done:
		return d.err
	default:
	}
	_ = d.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(5 * time.Second):
		_ = d.Cmd.Process.Kill()
		<-d.done
	}
	return d.err
}

// Done is closed when the process has exited.
func (d *Daemon) Done() <-chan struct{} { return d.done }

// Output is what the process wrote to stdout and stderr so far.
func (d *Daemon) Output() string { return d.out.String() }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
