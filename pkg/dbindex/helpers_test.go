package dbindex_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deployctl/deployctl/pkg/dbindex"
	"github.com/deployctl/deployctl/pkg/dbindex/dbindextest"
	"github.com/deployctl/deployctl/pkg/postgres/pgtest"
)

var pg *pgtest.Cluster

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

func fixture(t *testing.T) string { return dbindextest.Fixture(t, pg) }

func connect(t *testing.T, url string) *pgx.Conn { return dbindextest.Connect(t, url) }

func exec(t *testing.T, conn *pgx.Conn, sqls ...string) {
	t.Helper()
	dbindextest.Exec(t, conn, sqls...)
}

func invalidIndexes(t *testing.T, url string) string { return dbindextest.Invalid(t, url) }

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func inspect(t *testing.T, url string, minBloat float64) *dbindex.Report {
	t.Helper()
	r, err := dbindex.Inspect(t.Context(), connect(t, url), minBloat)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func names[T interface{ Label() string }](xs []T) string {
	var out []string
	for _, x := range xs {
		out = append(out, x.Label())
	}
	return strings.Join(out, " ")
}
