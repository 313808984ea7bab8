package backup

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill pg_dump or pg_restore when deployctl
// dies, even by SIGKILL, so that no restore goes on unattended.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// alive reports whether process pid exists.
func alive(pid int) bool {
	return syscall.Kill(pid, 0) != syscall.ESRCH
}
