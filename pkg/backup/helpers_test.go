package backup_test

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
)

func pgConnect(ctx context.Context, url string) (*pgx.Conn, error) { return pgx.Connect(ctx, url) }

func splitSQL(sql string) []string {
	var out []string
	for _, s := range strings.Split(sql, ";") {
		if strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	return out
}

func argsFor(stmt string, args []any) []any {
	if strings.Contains(stmt, "$1") {
		return args
	}
	return nil
}

func queryInt(ctx context.Context, url, q string) (int64, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var n int64
	err = conn.QueryRow(ctx, q).Scan(&n)
	return n, err
}
