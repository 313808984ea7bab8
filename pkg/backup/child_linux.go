package backup

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// superviseEnv makes a deployctl process (any binary that links this
// package) a supervisor: it runs the program named by its arguments and
// nothing else (see supervise).
const superviseEnv = "DEPLOYCTL_BACKUP_SUPERVISE"

// superviseAsEnv ("uid:gid") makes the supervisor run its program as that
// user: the scratch PostgreSQL of a verify when deployctl runs as root.
const superviseAsEnv = "DEPLOYCTL_BACKUP_SUPERVISE_AS"

func init() {
	if os.Getenv(superviseEnv) == "1" {
		os.Exit(supervise(os.Args[1:]))
	}
}

// supervised runs cmd through a supervisor: deployctl's own binary started
// as the leader of a new process group, with the kernel's parent-death
// signal, that runs cmd's program in that group. Whatever ends deployctl
// (exit, Ctrl-C, SIGKILL, the OOM killer), the supervisor kills the whole
// group: pg_restore -j's workers are forked by pg_restore, do not inherit
// its parent-death signal and outlive it; they are in the group all the
// same. Cancelling ctx kills the group too.
//
// Without its own executable (unlikely) it falls back to the parent-death
// signal on the program alone.
func supervised(cmd *exec.Cmd) {
	if _, err := exec.LookPath(cmd.Path); err != nil || cmd.Err != nil {
		dieWithParent(cmd) // Start fails and says why
		return
	}
	self, err := os.Executable()
	if err != nil {
		dieWithParent(cmd)
		return
	}
	cmd.Args = append([]string{self, cmd.Path}, cmd.Args[1:]...)
	cmd.Path = self
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, superviseEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	cmd.Cancel = func() error { return killGroup(cmd) }
	cmd.WaitDelay = 5 * time.Second
}

// killGroup kills the process group that cmd leads.
func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil || cmd.SysProcAttr == nil || !cmd.SysProcAttr.Setpgid {
		if cmd.Process != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// supervise runs args[0] with args[1:] on the supervisor's own stdin,
// stdout and stderr, and exits with its code. On SIGTERM (the parent-death
// signal), SIGINT or SIGHUP it kills its whole process group, itself
// included.
func supervise(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "deployctl supervisor: no program to run")
		return 2
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	if os.Getppid() == 1 { // deployctl died before the signal was set up
		return 137
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = withoutEnv(withoutEnv(os.Environ(), superviseEnv), superviseAsEnv)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: credential(os.Getenv(superviseAsEnv))}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 127
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	go func() {
		<-sigs
		_ = syscall.Kill(0, syscall.SIGKILL) // the whole group, this process last
	}()
	err := <-done
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return 1
}

func withoutEnv(env []string, key string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// dieWithParent makes the kernel kill the program when deployctl dies.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// alive reports whether process pid exists.
func alive(pid int) bool {
	return syscall.Kill(pid, 0) != syscall.ESRCH
}
