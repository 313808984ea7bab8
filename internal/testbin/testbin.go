// Package testbin builds deployctl's own binaries for end-to-end tests, the
// way an operator gets them, once per test package (call it from TestMain).
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Module is the import path the commands are built from.
const Module = "github.com/deployctl/deployctl"

// Built is a folder of freshly built binaries.
type Built struct {
	Dir string
}

// Build compiles the named commands of cmd/ ("deployctl", "demo-api") into a
// new temporary folder. Remove it with Cleanup.
func Build(cmds ...string) (*Built, error) {
	dir, err := os.MkdirTemp("", "deployctl-bin")
	if err != nil {
		return nil, err
	}
	b := &Built{Dir: dir}
	for _, c := range cmds {
		out, err := exec.Command("go", "build", "-o", b.Path(c), Module+"/cmd/"+c).CombinedOutput()
		if err != nil {
			b.Cleanup()
			return nil, fmt.Errorf("build %s: %v\n%s", c, err, out)
		}
	}
	return b, nil
}

// Path is where the named binary was built.
func (b *Built) Path(cmd string) string { return filepath.Join(b.Dir, cmd) }

// Cleanup removes the binaries.
func (b *Built) Cleanup() { _ = os.RemoveAll(b.Dir) }

// Main builds cmds, runs run (usually m.Run or pgtest.Main) and cleans up,
// returning the exit code for os.Exit. A failed build fails the package.
func Main(run func(*Built) int, cmds ...string) int {
	b, err := Build(cmds...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		return 1
	}
	defer b.Cleanup()
	return run(b)
}
