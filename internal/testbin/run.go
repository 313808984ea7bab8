package testbin

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"testing"
)

// Result is what a run of a binary left: its exit code and outputs.
type Result struct {
	Code           int
	Stdout, Stderr string
}

// OperatorEnv is the environment of an operator's shell with home as HOME:
// PATH only, a fixed actor, no colour; extra entries are appended.
func OperatorEnv(home string, extra ...string) []string {
	return append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "DEPLOYCTL_ACTOR=tester", "NO_COLOR=1"}, extra...)
}

// Run runs cmd without a terminal and returns its exit code and outputs. A
// command that could not run at all fails the test.
func Run(t testing.TB, cmd *exec.Cmd) Result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := Result{Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%v: %v", cmd.Args, err)
	}
	return r
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
