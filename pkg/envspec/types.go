package envspec

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"

	"github.com/deployctl/deployctl/pkg/timeutil"
)

// checker builds messages about one value. A secret value is never quoted:
// messages say what is wrong with it without repeating it.
type checker struct {
	secret bool
}

// q quotes a piece of the value, or hides it when the variable is secret.
func (c checker) q(s string) string {
	if c.secret {
		return "the value"
	}
	return strconv.Quote(s)
}

// checkValue checks value against v's type, then v's rules and env's extra
// rules (nil for none), and returns every problem found.
func checkValue(v *Var, env *Rules, value string) []string {
	c := checker{secret: v.Secret}
	if p := c.checkType(v.Type, value); p != "" {
		return []string{p}
	}
	var extra []finding
	if env != nil {
		extra = c.checkRules(v.Type, env, value)
	}
	return merge(c.checkRules(v.Type, &v.Rules, value), extra)
}

func (c checker) checkType(t Type, value string) string {
	switch t {
	case Int:
		if _, err := strconv.ParseInt(value, 10, 64); err != nil {
			return c.q(value) + " is not a whole number"
		}
	case Port:
		if n, err := strconv.Atoi(value); err != nil || n < 1 || n > 65535 {
			return c.q(value) + " is not a port number (1-65535)"
		}
	case URL:
		return c.checkURL(value)
	case Duration:
		if _, err := timeutil.ParseDuration(value); err != nil {
			return c.q(value) + " is not a duration; use forms like 15m, 1h30m, 7d"
		}
	case Hostname:
		if !validHost(value) {
			return c.q(value) + " is not a hostname or IP address"
		}
	case Email:
		return c.checkEmail(value)
	case Origins:
		_, p := c.parseOrigins(value)
		return p
	}
	return ""
}

func (c checker) checkURL(value string) string {
	u, err := url.Parse(value)
	if err != nil || u.Scheme == "" {
		return c.q(value) + " is not a URL; give scheme://host…, e.g. https://example.com"
	}
	if u.Host == "" && u.Scheme != "file" && u.Query().Get("host") == "" {
		return "the URL has no host; give scheme://host…"
	}
	return ""
}

func (c checker) checkEmail(value string) string {
	a, err := mail.ParseAddress(value)
	if err != nil || a.Name != "" || a.Address != value {
		return c.q(value) + " is not an email address such as user@example.com"
	}
	if _, domain, _ := strings.Cut(a.Address, "@"); !validHost(domain) {
		return c.q(value) + " is not an email address: no valid domain after the @"
	}
	return ""
}

// validHost accepts an IP address or an RFC 1123 hostname.
func validHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if !validLabel(label) {
			return false
		}
	}
	return true
}

func validLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for _, r := range l {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// origin is one entry of an origins list.
type origin struct {
	raw, scheme, host string // host without port; "*" for the wildcard entry
}

// parseOrigins splits a comma-separated list of origins such as
// "https://example.com, https://admin.example.com:8443" or "*".
func (c checker) parseOrigins(value string) ([]origin, string) {
	var out []origin
	for i, item := range strings.Split(value, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, fmt.Sprintf("origin %d of the list is empty; separate origins with single commas", i+1)
		}
		if item == "*" {
			out = append(out, origin{raw: item, host: "*"})
			continue
		}
		o, ok := parseOrigin(item)
		if !ok {
			return nil, fmt.Sprintf("origin %d, %s, is not of the form https://host[:port] (no path)", i+1, c.q(item))
		}
		out = append(out, o)
	}
	return out, ""
}

func parseOrigin(item string) (origin, bool) {
	u, err := url.Parse(item)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return origin{}, false
	}
	host := u.Hostname()
	check := strings.TrimPrefix(host, "*.")
	if !validHost(check) {
		return origin{}, false
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return origin{}, false
		}
	}
	return origin{raw: item, scheme: u.Scheme, host: host}, true
}
