// Package postgres holds what every engine needs of PostgreSQL: connecting
// with a timeout, redacting connection strings, and naming the server.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/deployctl/deployctl/pkg/debuglog"
	"github.com/deployctl/deployctl/pkg/provider"
)

// DefaultConnectTimeout bounds a connection attempt when the URL sets none.
const DefaultConnectTimeout = 10 * time.Second

// Connect opens one connection to url. A server that cannot be reached is
// returned as *provider.UnreachableError; a rejected login as a plain error.
// Neither error contains the password.
func Connect(ctx context.Context, url string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("invalid database URL %s: %s", Redact(url), scrub(err.Error(), url))
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	cfg.Tracer = debuglog.Tracer{} // -v: every statement, without its arguments
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, ConnectError(url, err)
	}
	return conn, nil
}

// ConnectError classifies a connection error for url: unreachable (exit 4)
// versus refused credentials or database (exit 1), without the password.
func ConnectError(url string, err error) error {
	msg := dedupeLines(scrub(err.Error(), url))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "28P01", "28000":
			return fmt.Errorf("database %s refused the login: %s; check the user and password", Redact(url), pgErr.Message)
		case "3D000":
			return fmt.Errorf("database %s does not exist: %s", Redact(url), pgErr.Message)
		}
		return fmt.Errorf("database %s: %s", Redact(url), msg)
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded) || isDialError(msg) {
		return provider.Unreachable("database "+Redact(url), errors.New(msg))
	}
	return fmt.Errorf("database %s: %s", Redact(url), msg)
}

func isDialError(msg string) bool {
	for _, s := range []string{"dial", "connection refused", "no such host", "timeout", "no such file or directory"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// scrub removes the password of url from msg, wherever it appears.
func scrub(msg, rawURL string) string {
	if pw := Password(rawURL); pw != "" {
		msg = strings.ReplaceAll(msg, pw, "xxxxx")
		msg = strings.ReplaceAll(msg, url.QueryEscape(pw), "xxxxx")
	}
	return msg
}

// Password returns the password in a postgres URL or keyword string, if any.
func Password(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			return pw
		}
		return u.Query().Get("password")
	}
	for _, f := range strings.Fields(raw) {
		if v, ok := strings.CutPrefix(f, "password="); ok {
			return strings.Trim(v, "'")
		}
	}
	return ""
}

// Redact returns url with its password replaced by "xxxxx", for messages.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		if pw := Password(raw); pw != "" {
			return strings.ReplaceAll(raw, pw, "xxxxx")
		}
		return raw
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// WithDatabase returns url pointing at database name instead.
func WithDatabase(raw, name string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return "", fmt.Errorf("need a postgres:// URL to derive a scratch database from %s", Redact(raw))
	}
	u.Path = "/" + name
	return u.String(), nil
}

// ServerVersion returns the server's version string, e.g. "15.18".
func ServerVersion(ctx context.Context, conn *pgx.Conn) (string, error) {
	var v string
	err := conn.QueryRow(ctx, "SHOW server_version").Scan(&v)
	return v, err
}

// dedupeLines drops repeated lines: pgx reports each attempt on a host (TLS
// first, then without, under sslmode=prefer) with the same dial error.
func dedupeLines(msg string) string {
	seen := map[string]bool{}
	var out []string
	for _, l := range strings.Split(msg, "\n") {
		if seen[l] {
			continue
		}
		seen[l] = true
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}
