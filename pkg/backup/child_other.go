//go:build !linux

package backup

import "os/exec"

func dieWithParent(*exec.Cmd) {}

func alive(int) bool { return true }
