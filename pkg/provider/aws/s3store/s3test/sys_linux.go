package s3test

import "syscall"

// dieWithParent has the kernel end the gateway when the test binary dies
// (a killed or timed-out go test leaves no server behind).
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
