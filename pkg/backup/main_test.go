package backup_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/backup"
	"github.com/deployctl/deployctl/pkg/postgres/pgtest"
	"github.com/deployctl/deployctl/pkg/provider/local/filestore"
)

var pg *pgtest.Cluster

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

// newEngine returns an engine on an empty folder store with a fixed clock.
func newEngine(t *testing.T) (*backup.Engine, *filestore.Store) {
	t.Helper()
	st := &filestore.Store{Dir: filepath.Join(t.TempDir(), "backups")}
	clock := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	return &backup.Engine{Store: st, Now: func() time.Time { return clock }}, st
}

// seed creates a small schema with data in the database at url.
func seed(t *testing.T, url string, rows int) {
	t.Helper()
	exec(t, url, `
CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL, created timestamptz DEFAULT now());
CREATE TABLE orders (id bigserial PRIMARY KEY, user_id int REFERENCES users, total numeric(10,2));
INSERT INTO users (email) SELECT 'u' || g || '@example.com' FROM generate_series(1, $1) g;
INSERT INTO orders (user_id, total) SELECT 1 + g % $1, g * 1.5 FROM generate_series(1, $1 * 2) g;`, rows)
}

func exec(t *testing.T, url, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgConnect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if len(args) > 0 {
		// one statement at a time when parameters are used
		for _, s := range splitSQL(sql) {
			if _, err := conn.Exec(ctx, s, argsFor(s, args)...); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		return
	}
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("seed: %v", err)
	}
}

func mustCreate(t *testing.T, e *backup.Engine, url string) *backup.Manifest {
	t.Helper()
	m, err := e.Create(t.Context(), backup.CreateOptions{DatabaseURL: url})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return m
}
