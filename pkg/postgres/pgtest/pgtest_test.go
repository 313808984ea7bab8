package pgtest

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

var pg *Cluster

func TestMain(m *testing.M) { os.Exit(Main(m, &pg)) }

func TestNewDatabaseAndPasswords(t *testing.T) {
	ctx := t.Context()
	url := pg.NewDatabase(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var db string
	if err := conn.QueryRow(ctx, "select current_database()").Scan(&db); err != nil || !strings.HasPrefix(db, "t_") {
		t.Fatalf("db %q err %v", db, err)
	}
	good := pg.CreateRole(t, "canary_user", "s3cret-canary", "postgres")
	c2, err := pgx.Connect(ctx, good)
	if err != nil {
		t.Fatalf("role login: %v", err)
	}
	c2.Close(ctx)
	bad := strings.Replace(good, "s3cret-canary", "wrong", 1)
	if c3, err := pgx.Connect(context.Background(), bad); err == nil {
		c3.Close(ctx)
		t.Fatal("wrong password accepted: host auth must not be trust")
	}
}
