package backup

import (
	"fmt"
	"os/exec"
	"syscall"
)

// credential parses "uid:gid"; nil for "" or nonsense (the program then
// runs as the supervisor).
func credential(s string) *syscall.Credential {
	var uid, gid uint32
	if _, err := fmt.Sscanf(s, "%d:%d", &uid, &gid); err != nil || s == "" {
		return nil
	}
	return &syscall.Credential{Uid: uid, Gid: gid}
}

// runAs makes the supervisor of cmd (after supervised) run its program as
// uid:gid.
func runAs(cmd *exec.Cmd, uid, gid int) {
	cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d:%d", superviseAsEnv, uid, gid))
}
