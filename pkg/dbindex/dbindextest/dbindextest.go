// Package dbindextest builds databases whose indexes need care, on a
// pgtest cluster, for the tests of pkg/dbindex and `deployctl db indexes`.
package dbindextest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deployctl/deployctl/pkg/dbindex"
	"github.com/deployctl/deployctl/pkg/postgres/pgtest"
)

// Fixture is a new database of pg with one index of each kind the report
// names, and returns its URL:
//   - bloaty_v_idx: bloated on purpose (90% of its rows deleted, vacuumed)
//   - accounts_email_idx: a duplicate of the unique constraint's index, and unused
//   - accounts_tenant_idx: overlapping (a prefix of accounts_tenant_created_idx), and unused
//   - accounts_tenant_uniq: invalid, left by a failed CREATE UNIQUE INDEX CONCURRENTLY
//
// accounts_tenant_created_idx has been scanned; accounts_pkey and
// accounts_email_key back constraints.
func Fixture(t testing.TB, pg *pgtest.Cluster) string {
	t.Helper()
	url := pg.NewDatabase(t)
	conn := Connect(t, url)
	Bloat(t, conn, "bloaty")
	Exec(t, conn, `CREATE TABLE accounts (id int PRIMARY KEY, email text, tenant int, created int, CONSTRAINT accounts_email_key UNIQUE (email))`,
		`INSERT INTO accounts SELECT g, 'u' || g || '@example.com', g % 50, g FROM generate_series(1, 2000) g`,
		`CREATE INDEX accounts_email_idx ON accounts (email)`,
		`CREATE INDEX accounts_tenant_created_idx ON accounts (tenant, created)`,
		`ANALYZE accounts`)
	scanTenantCreated(t, conn)
	Exec(t, conn, `CREATE INDEX accounts_tenant_idx ON accounts (tenant)`)
	if _, err := conn.Exec(context.Background(), `CREATE UNIQUE INDEX CONCURRENTLY accounts_tenant_uniq ON accounts (tenant)`); err == nil || !strings.Contains(err.Error(), "could not create unique index") {
		t.Fatalf("the failed CREATE INDEX CONCURRENTLY: %v", err)
	}
	return url
}

// Bloat makes table (id, v) with its index table_v_idx bloated: 300000
// rows, 90% of them deleted and vacuumed away, analyzed.
func Bloat(t testing.TB, conn *pgx.Conn, table string) {
	t.Helper()
	Exec(t, conn, fmt.Sprintf(`CREATE TABLE %[1]s (id int NOT NULL, v int)`, table),
		fmt.Sprintf(`INSERT INTO %[1]s SELECT g, g FROM generate_series(1, 300000) g`, table),
		fmt.Sprintf(`CREATE INDEX %[1]s_v_idx ON %[1]s (v)`, table),
		fmt.Sprintf(`DELETE FROM %[1]s WHERE id %% 10 <> 0`, table),
		fmt.Sprintf(`VACUUM ANALYZE %[1]s`, table))
}

// Blocker is an open transaction (application_name blocker-app) that has
// written to table: REINDEX CONCURRENTLY waits for it before it builds.
// release ends it; calling it again does nothing.
func Blocker(t testing.TB, url, table string) (pid int32, release func()) {
	t.Helper()
	conn := Connect(t, url)
	Exec(t, conn, "SET application_name = 'blocker-app'", "BEGIN", "INSERT INTO "+table+" VALUES (0, 0)")
	if err := conn.QueryRow(context.Background(), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	return pid, func() { once.Do(func() { Exec(t, conn, "ROLLBACK") }) }
}

// scanTenantCreated scans accounts_tenant_created_idx (the only index on
// tenant yet) and waits until the statistics count it.
func scanTenantCreated(t testing.TB, conn *pgx.Conn) {
	t.Helper()
	Exec(t, conn, `SET enable_seqscan = off`, `SET enable_bitmapscan = off`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		Exec(t, conn, `SELECT count(*) FROM accounts WHERE tenant = 7`, `SELECT pg_stat_force_next_flush()`, `SELECT pg_stat_clear_snapshot()`)
		var n int64
		if err := conn.QueryRow(context.Background(), "SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'accounts_tenant_created_idx'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the scan of accounts_tenant_created_idx was never counted")
		}
		time.Sleep(50 * time.Millisecond)
	}
	Exec(t, conn, `RESET enable_seqscan`, `RESET enable_bitmapscan`)
}

// Connect opens a connection closed at the end of t.
func Connect(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// Exec runs each statement, failing t on the first error.
func Exec(t testing.TB, conn *pgx.Conn, sqls ...string) {
	t.Helper()
	for _, q := range sqls {
		if _, err := conn.Exec(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// Invalid lists the indexes with indisvalid false, by name, sorted.
func Invalid(t testing.TB, url string) string {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE NOT i.indisvalid ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(got, " ")
}

// Bloated lists the indexes dbindex.Inspect finds 30% bloated or more, by
// name.
func Bloated(t testing.TB, url string) string {
	t.Helper()
	r, err := dbindex.Inspect(context.Background(), Connect(t, url), 30)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, b := range r.Bloated {
		out = append(out, b.Name)
	}
	return strings.Join(out, " ")
}
