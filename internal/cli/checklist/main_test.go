package checklist_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/deployctl/deployctl/pkg/postgres/pgtest"
)

var (
	pg  *pgtest.Cluster
	bin string
)

// TestMain builds the binary once and starts one PostgreSQL cluster.
func TestMain(m *testing.M) {
	os.Exit(func() int {
		tmp, err := os.MkdirTemp("", "dctl-checklist")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(tmp)
		bin = filepath.Join(tmp, "deployctl")
		if out, err := exec.Command("go", "build", "-o", bin, "../../../cmd/deployctl").CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: build deployctl: %v\n%s", err, out)
			return 1
		}
		return pgtest.Main(m, &pg)
	}())
}
