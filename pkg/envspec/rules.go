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

// checkRules applies r to a value that has already passed its type check.
func (c checker) checkRules(t Type, r *Rules, value string) []string {
	var probs []string
	add := func(p string) {
		if p != "" {
			probs = append(probs, p)
		}
	}
	add(c.checkLength(r, value))
	if r.re != nil && !r.re.MatchString(value) {
		add(fmt.Sprintf("%s does not match the pattern %s", c.q(value), r.Pattern))
	}
	if len(r.Values) > 0 && !contains(r.Values, value) {
		add(fmt.Sprintf("%s is not one of: %s", c.q(value), strings.Join(r.Values, ", ")))
	}
	add(c.checkBounds(t, r, value))
	switch t {
	case URL:
		add(c.checkURLRules(r, value))
	case Origins:
		add(c.checkOriginRules(r, value))
	case Hostname:
		if r.NoLocalhost && isLocal(value) {
			add(fmt.Sprintf("%s points at this machine; use the real host here", c.q(value)))
		}
	case Email:
		_, domain, _ := strings.Cut(value, "@")
		if r.NoLocalhost && isLocal(domain) {
			add("the address is on a local domain; use a real mailbox here")
		}
	}
	if r.NotPlaceholder && IsPlaceholder(value) {
		add("the value is a known placeholder (like your-secret-key or changeme); generate a real one, e.g. openssl rand -base64 48")
	}
	return probs
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

func (c checker) checkURLRules(r *Rules, value string) string {
	u, err := url.Parse(value)
	if err != nil {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	var probs []string
	if len(r.Schemes) > 0 && !contains(r.Schemes, scheme) {
		probs = append(probs, fmt.Sprintf("scheme %q is not allowed; use %s", scheme, strings.Join(r.Schemes, ", ")))
	}
	if r.HTTPSOnly && scheme != "https" {
		probs = append(probs, "must use https")
	}
	if r.NoLocalhost && isLocal(u.Hostname()) {
		probs = append(probs, "points at this machine (localhost); use the real host here")
	}
	return strings.Join(probs, "; ")
}

func (c checker) checkOriginRules(r *Rules, value string) string {
	origins, p := c.parseOrigins(value)
	if p != "" {
		return ""
	}
	var probs []string
	for _, o := range origins {
		wild := o.host == "*" || strings.HasPrefix(o.host, "*.")
		switch {
		case r.NoWildcard && wild:
			probs = append(probs, fmt.Sprintf("%s is a wildcard; list the exact origins", c.q(o.raw)))
		case r.HTTPSOnly && o.host != "*" && o.scheme != "https":
			probs = append(probs, fmt.Sprintf("%s is not https", c.q(o.raw)))
		case r.NoLocalhost && isLocal(o.host):
			probs = append(probs, fmt.Sprintf("%s points at this machine", c.q(o.raw)))
		}
	}
	return strings.Join(probs, "; ")
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
