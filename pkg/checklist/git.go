package checklist

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// GitCommit returns a function that tells the commit checked out in dir.
func GitCommit(dir string) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		cmd := exec.CommandContext(ctx, "git", "rev-parse", "HEAD")
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			if ee, ok := err.(*exec.ExitError); ok {
				return "", fmt.Errorf("git rev-parse HEAD in %s: %s", dir, strings.TrimSpace(string(ee.Stderr)))
			}
			return "", fmt.Errorf("git rev-parse HEAD: %v", err)
		}
		return strings.TrimSpace(string(out)), nil
	}
}
