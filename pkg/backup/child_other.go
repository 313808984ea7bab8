//go:build !linux

package backup

import "os/exec"

func supervised(*exec.Cmd) {}

func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	return cmd.Process.Kill()
}

func alive(int) bool { return true }

func runAs(*exec.Cmd, int, int) {}
