package envspec

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/deployctl/deployctl/pkg/timeutil"
)

// finding is one problem of a value; kind groups the problems one rule
// family can raise, so that an environment's stricter rule replaces the
// variable's own instead of repeating it ("at least 32" over "at least 16").
type finding struct {
	kind, msg string
}

// checkRules applies r to a value that has already passed its type check.
func (c checker) checkRules(t Type, r *Rules, value string) []finding {
	var fs []finding
	add := func(kind, msg string) {
		if msg != "" {
			fs = append(fs, finding{kind, msg})
		}
	}
	add("length", c.checkLength(r, value))
	if r.re != nil && !r.re.MatchString(value) {
		add("pattern", fmt.Sprintf("%s does not match the pattern %s", c.q(value), r.Pattern))
	}
	if len(r.Values) > 0 && !contains(r.Values, value) {
		add("values", fmt.Sprintf("%s is not one of: %s", c.q(value), strings.Join(r.Values, ", ")))
	}
	add("bounds", c.checkBounds(t, r, value))
	switch t {
	case URL:
		fs = append(fs, c.checkURLRules(r, value)...)
	case Origins:
		fs = append(fs, c.checkOriginRules(r, value)...)
	case Hostname:
		if r.NoLocalhost && isLocal(value) {
			add("local", fmt.Sprintf("%s points at this machine; use the real host here", c.q(value)))
		}
	case Email:
		_, domain, _ := strings.Cut(value, "@")
		if r.NoLocalhost && isLocal(domain) {
			add("local", "the address is on a local domain; use a real mailbox here")
		}
	}
	if r.NotPlaceholder && IsPlaceholder(value) {
		add("placeholder", "the value is a known placeholder (like your-secret-key or changeme); generate a real one, e.g. openssl rand -base64 48")
	}
	return fs
}

// merge combines the findings of a variable's rules and of its
// environment's rules: where both found a problem of one kind, the
// environment's (stricter) message stands alone.
func merge(base, env []finding) []string {
	seen := map[string]bool{}
	for _, f := range env {
		seen[f.kind] = true
	}
	var out []string
	for _, f := range base {
		if !seen[f.kind] {
			out = append(out, f.msg)
		}
	}
	for _, f := range env {
		out = append(out, f.msg)
	}
	return out
}

func (c checker) checkLength(r *Rules, value string) string {
	n := utf8.RuneCountInString(value)
	if r.MinLength > 0 && n < r.MinLength {
		return fmt.Sprintf("%d characters long; at least %d needed", n, r.MinLength)
	}
	if r.MaxLength > 0 && n > r.MaxLength {
		return fmt.Sprintf("%d characters long; at most %d allowed", n, r.MaxLength)
	}
	return ""
}

// checkBounds compares numbers and durations with min and max.
func (c checker) checkBounds(t Type, r *Rules, value string) string {
	if r.Min == "" && r.Max == "" {
		return ""
	}
	parse := func(s string) (float64, bool) {
		if t == Duration {
			d, err := timeutil.ParseDuration(s)
			return float64(d), err == nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		return float64(n), err == nil
	}
	v, ok := parse(value)
	if !ok {
		return ""
	}
	if lo, ok := parse(r.Min); ok && r.Min != "" && v < lo {
		return fmt.Sprintf("%s is below the minimum %s", c.q(value), r.Min)
	}
	if hi, ok := parse(r.Max); ok && r.Max != "" && v > hi {
		return fmt.Sprintf("%s is above the maximum %s", c.q(value), r.Max)
	}
	return ""
}

func (c checker) checkURLRules(r *Rules, value string) []finding {
	u, err := url.Parse(value)
	if err != nil {
		return nil
	}
	scheme := strings.ToLower(u.Scheme)
	var fs []finding
	if len(r.Schemes) > 0 && !contains(r.Schemes, scheme) {
		fs = append(fs, finding{"scheme", fmt.Sprintf("scheme %q is not allowed; use %s", scheme, strings.Join(r.Schemes, ", "))})
	}
	if r.HTTPSOnly && scheme != "https" {
		fs = append(fs, finding{"https", "must use https"})
	}
	if r.NoLocalhost && isLocal(u.Hostname()) {
		fs = append(fs, finding{"local", "points at this machine (localhost); use the real host here"})
	}
	if r.RequireTLS {
		if msg := checkTLS(u, scheme); msg != "" {
			fs = append(fs, finding{"tls", msg})
		}
	}
	return fs
}

// tlsSchemes are the URL schemes that are TLS by themselves.
var tlsSchemes = []string{"https", "wss", "rediss", "amqps", "smtps", "ldaps", "mongodb+srv"}

// checkTLS says what is wrong with a URL to a host that is not this
// machine and would travel without TLS: a PostgreSQL URL needs an sslmode
// that refuses a plain connection (libpq's default, prefer, falls back to
// one), any other a TLS scheme. A Unix socket or a local host needs none.
func checkTLS(u *url.URL, scheme string) string {
	host := u.Hostname()
	if host == "" || strings.HasPrefix(host, "/") || isLocal(host) {
		return ""
	}
	if scheme == "postgres" || scheme == "postgresql" {
		switch mode := u.Query().Get("sslmode"); mode {
		case "require", "verify-ca", "verify-full":
			return ""
		case "":
			return fmt.Sprintf("connects to %s without TLS (no sslmode: libpq falls back to a plain connection); add ?sslmode=verify-full (or require)", host)
		default:
			return fmt.Sprintf("sslmode=%s lets the connection to %s go without TLS; use sslmode=verify-full (or require)", mode, host)
		}
	}
	if contains(tlsSchemes, scheme) {
		return ""
	}
	return fmt.Sprintf("%s:// to %s is not encrypted; use a TLS scheme (%s)", scheme, host, strings.Join(tlsSchemes[:2], ", "))
}

func (c checker) checkOriginRules(r *Rules, value string) []finding {
	origins, p := c.parseOrigins(value)
	if p != "" {
		return nil
	}
	var wild, plain, local []string
	for _, o := range origins {
		isWild := o.host == "*" || strings.HasPrefix(o.host, "*.")
		switch {
		case r.NoWildcard && isWild:
			wild = append(wild, c.q(o.raw))
		case r.HTTPSOnly && o.host != "*" && o.scheme != "https":
			plain = append(plain, c.q(o.raw))
		case r.NoLocalhost && isLocal(o.host):
			local = append(local, c.q(o.raw))
		}
	}
	var fs []finding
	if len(wild) > 0 {
		fs = append(fs, finding{"wildcard", strings.Join(wild, ", ") + " is a wildcard; list the exact origins"})
	}
	if len(plain) > 0 {
		fs = append(fs, finding{"https", strings.Join(plain, ", ") + " must use https"})
	}
	if len(local) > 0 {
		fs = append(fs, finding{"local", strings.Join(local, ", ") + " points at this machine"})
	}
	return fs
}

// isLocal reports whether host names this machine.
func isLocal(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && (ip.IsLoopback() || ip.IsUnspecified())
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Placeholders are values found in examples and templates that must never
// be a real secret. Compared case-insensitively, ignoring - _ . and spaces.
var Placeholders = []string{
	"your-secret-key", "your-secret", "your-jwt-secret", "your-password", "your-api-key",
	"secret", "secret-key", "secretkey", "jwt-secret", "mysecret", "supersecret", "topsecret",
	"changeme", "change-me", "change-this", "changethis", "replace-me", "replaceme",
	"password", "passw0rd", "pass", "admin", "root", "test", "testing", "example",
	"default", "dummy", "placeholder", "todo", "fixme", "xxx", "123456", "12345678",
	"qwerty", "letmein", "postgres", "s3cr3t", "abc123", "none", "null",
}

var placeholderSet = func() map[string]bool {
	m := map[string]bool{}
	for _, p := range Placeholders {
		m[normalize(p)] = true
	}
	return m
}()

func normalize(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '-', '_', '.', ' ':
			return -1
		}
		return r
	}, strings.ToLower(strings.TrimSpace(s)))
}

// IsPlaceholder reports whether value is a known placeholder: one of
// Placeholders, a phrase starting "your" or "change", anything mentioning
// "placeholder", or one character repeated ("xxxxxxxx").
func IsPlaceholder(value string) bool {
	n := normalize(value)
	if placeholderSet[n] {
		return true
	}
	for _, prefix := range []string{"your", "changeme", "replaceme", "insert"} {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	if strings.Contains(n, "placeholder") || strings.Contains(n, "example") {
		return true
	}
	first, _ := utf8.DecodeRuneInString(n)
	return n != "" && strings.Trim(n, string(first)) == ""
}
