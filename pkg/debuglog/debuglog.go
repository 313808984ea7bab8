// Package debuglog is what -v shows: every HTTP request deployctl's
// providers make (method, URL without secrets, status, duration) and every
// SQL statement on its database connections (the statement with its
// literals' secrets cut, never its arguments; duration; rows or error),
// through log/slog at debug level. Off (the default), it costs nothing.
package debuglog

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

var logger atomic.Pointer[slog.Logger]

// Set makes l the debug log; nil turns it off.
func Set(l *slog.Logger) { logger.Store(l) }

// On says whether debug logging is on.
func On() bool { return logger.Load() != nil }

func log() *slog.Logger {
	if l := logger.Load(); l != nil {
		return l
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Transport logs each request through base (nil: http.DefaultTransport).
func Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	if _, ok := base.(*transport); ok {
		return base
	}
	return &transport{base: base}
}

type transport struct{ base http.RoundTripper }

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !On() {
		return t.base.RoundTrip(req)
	}
	start := time.Now()
	resp, err := t.base.RoundTrip(req)
	attrs := []any{"method", req.Method, "url", RedactURL(req.URL), "duration", time.Since(start).Round(time.Microsecond).String()}
	if err != nil {
		log().Debug("http", append(attrs, "error", err.Error())...)
		return resp, err
	}
	log().Debug("http", append(attrs, "status", resp.StatusCode)...)
	return resp, nil
}

// secretParams are query parameters whose values are credentials
// (presigned S3 URLs, tokens); their values are never logged.
var secretParams = regexp.MustCompile(`(?i)(signature|credential|token|secret|password|key|auth|sig)`)

// RedactURL is u without user info and without the values of query
// parameters that look like credentials.
func RedactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User = nil
	if c.RawQuery != "" {
		q := c.Query()
		for k := range q {
			if secretParams.MatchString(k) {
				q[k] = []string{"REDACTED"}
			}
		}
		c.RawQuery = q.Encode()
	}
	return c.String()
}

// Tracer is a pgx query tracer that logs each statement when debug
// logging is on; set it as pgx.ConnConfig.Tracer.
type Tracer struct{}

type queryKey struct{}

type query struct {
	sql   string
	start time.Time
}

func (Tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if !On() {
		return ctx
	}
	return context.WithValue(ctx, queryKey{}, query{sql: data.SQL, start: time.Now()})
}

func (Tracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	q, ok := ctx.Value(queryKey{}).(query)
	if !ok || !On() {
		return
	}
	attrs := []any{"sql", RedactSQL(q.sql), "duration", time.Since(q.start).Round(time.Microsecond).String()}
	if data.Err != nil {
		attrs = append(attrs, "error", data.Err.Error())
	} else {
		attrs = append(attrs, "result", data.CommandTag.String())
	}
	log().Debug("sql", attrs...)
}

var (
	sqlSecret = regexp.MustCompile(`(?i)(password|secret|token)(\s*[=:]?\s*)'(?:[^']|'')*'`)
	spaces    = regexp.MustCompile(`\s+`)
)

// RedactSQL is a statement on one line, at most 300 characters, with the
// literal after PASSWORD (or SECRET, TOKEN) cut out.
func RedactSQL(sql string) string {
	s := sqlSecret.ReplaceAllString(sql, "$1$2'REDACTED'")
	s = strings.TrimSpace(spaces.ReplaceAllString(s, " "))
	if r := []rune(s); len(r) > 300 {
		s = string(r[:299]) + "…"
	}
	return s
}
