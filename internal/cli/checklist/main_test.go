package checklist_test

import (
	"os"
	"testing"

	"github.com/deployctl/deployctl/internal/testbin"
	"github.com/deployctl/deployctl/pkg/postgres/pgtest"
)

var (
	pg  *pgtest.Cluster
	bin string
)

// TestMain builds the binary once and starts one PostgreSQL cluster.
func TestMain(m *testing.M) {
	os.Exit(testbin.Main(func(b *testbin.Built) int {
		bin = b.Path("deployctl")
		return pgtest.Main(m, &pg)
	}, "deployctl"))
}
