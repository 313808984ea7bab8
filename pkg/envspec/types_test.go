package envspec

import (
	"strings"
	"testing"
)

func TestTypes(t *testing.T) {
	cases := []struct {
		typ     Type
		good    []string
		bad     []string
		badWord string
	}{
		{String, []string{"anything", "x y"}, nil, ""},
		{Int, []string{"0", "-3", "42"}, []string{"4.2", "ten", "1e3"}, "whole number"},
		{Port, []string{"1", "3000", "65535"}, []string{"0", "65536", "80a", "-1"}, "port"},
		{URL, []string{"https://example.com", "postgres://u:p@db:5432/app", "postgres:///app?host=/tmp", "file:///x"},
			[]string{"example.com", "://x", "http://", "not a url"}, "URL"},
		{Duration, []string{"15m", "7d", "1h30m", "2w", "90s"}, []string{"7 days", "-5m", "15", "m"}, "duration"},
		{Hostname, []string{"smtp.example.com", "localhost", "10.0.0.1", "::1", "a-b.c"},
			[]string{"-bad.com", "under_score.com", "a..b", "smtp.example.com:587", strings.Repeat("a", 64) + ".com"}, "hostname"},
		{Email, []string{"user@example.com", "a.b+c@mail.example.org"},
			[]string{"user", "User <user@example.com>", "user@", "user@-x-"}, "email"},
		{Origins, []string{"https://example.com", "*", "https://a.example.com, http://localhost:3000", "https://*.example.com", "https://example.com/"},
			[]string{"example.com", "https://example.com/path", "https://a.com,,https://b.com", "ftp://x.com", "https://x.com?a=1", "https://x.com:99999"}, "origin"},
	}
	for _, c := range cases {
		v := &Var{Name: "V", Type: c.typ}
		for _, val := range c.good {
			if p := checkValue(v, nil, val); len(p) > 0 {
				t.Errorf("%s %q: %v", c.typ, val, p)
			}
		}
		for _, val := range c.bad {
			p := checkValue(v, nil, val)
			if len(p) == 0 {
				t.Errorf("%s %q accepted", c.typ, val)
				continue
			}
			if !strings.Contains(p[0], c.badWord) {
				t.Errorf("%s %q: message %q should mention %q", c.typ, val, p[0], c.badWord)
			}
		}
	}
}

func TestRules(t *testing.T) {
	cases := []struct {
		name  string
		v     Var
		val   string
		wants string // "" for ok
	}{
		{"min_length", Var{Type: String, Rules: Rules{MinLength: 5}}, "abcd", "at least 5"},
		{"max_length", Var{Type: String, Rules: Rules{MaxLength: 3}}, "abcd", "at most 3"},
		{"pattern ok", Var{Type: String, Rules: Rules{Pattern: "a+"}}, "aaa", ""},
		{"pattern whole", Var{Type: String, Rules: Rules{Pattern: "a+"}}, "aab", "pattern"},
		{"values", Var{Type: Enum, Rules: Rules{Values: []string{"x", "y"}}}, "z", "one of: x, y"},
		{"schemes", Var{Type: URL, Rules: Rules{Schemes: []string{"postgres"}}}, "mysql://h/db", `scheme "mysql"`},
		{"schemes case", Var{Type: URL, Rules: Rules{Schemes: []string{"postgres"}}}, "POSTGRES://h/db", ""},
		{"int min", Var{Type: Int, Rules: Rules{Min: "2"}}, "1", "below the minimum 2"},
		{"int max", Var{Type: Int, Rules: Rules{Max: "2"}}, "3", "above the maximum 2"},
		{"port min", Var{Type: Port, Rules: Rules{Min: "1024"}}, "80", "below"},
		{"duration max", Var{Type: Duration, Rules: Rules{Max: "1h"}}, "2h", "above the maximum 1h"},
		{"duration min days", Var{Type: Duration, Rules: Rules{Min: "1d"}}, "7d", ""},
		{"url https", Var{Type: URL, Rules: Rules{HTTPSOnly: true}}, "http://x.com", "https"},
		{"url localhost", Var{Type: URL, Rules: Rules{NoLocalhost: true}}, "postgres://u@127.0.0.1/db", "this machine"},
		{"origins https", Var{Type: Origins, Rules: Rules{HTTPSOnly: true}}, "https://a.com,http://b.com", `"http://b.com" must use https`},
		{"origins wildcard", Var{Type: Origins, Rules: Rules{NoWildcard: true}}, "*", "wildcard"},
		{"origins sub wildcard", Var{Type: Origins, Rules: Rules{NoWildcard: true}}, "https://*.a.com", "wildcard"},
		{"origins localhost", Var{Type: Origins, Rules: Rules{NoLocalhost: true}}, "http://localhost:3000", "this machine"},
		{"hostname localhost", Var{Type: Hostname, Rules: Rules{NoLocalhost: true}}, "localhost", "this machine"},
		{"email local", Var{Type: Email, Rules: Rules{NoLocalhost: true}}, "a@localhost", "local domain"},
		{"placeholder", Var{Type: String, Rules: Rules{NotPlaceholder: true}}, "changeme", "placeholder"},
		{"tls no sslmode", Var{Type: URL, Rules: Rules{RequireTLS: true}}, "postgres://app:pw@db.prod.example.com:5432/app", "without TLS"},
		{"tls prefer", Var{Type: URL, Rules: Rules{RequireTLS: true}}, "postgres://app@db.example.com/app?sslmode=prefer", "sslmode=prefer"},
		{"tls disable", Var{Type: URL, Rules: Rules{RequireTLS: true}}, "postgresql://app@db.example.com/app?sslmode=disable", "sslmode=disable"},
		{"tls require", Var{Type: URL, Rules: Rules{RequireTLS: true}}, "postgres://app@db.example.com/app?sslmode=require", ""},
		{"tls verify-full", Var{Type: URL, Rules: Rules{RequireTLS: true}}, "postgres://app@db.example.com/app?sslmode=verify-full", ""},
		{"tls local host", Var{Type: URL, Rules: Rules{RequireTLS: true}}, "postgres://app@localhost/app", ""},
		{"tls unix socket", Var{Type: URL, Rules: Rules{RequireTLS: true}}, "postgres:///app?host=/var/run/postgresql", ""},
		{"tls http", Var{Type: URL, Rules: Rules{RequireTLS: true}}, "http://api.example.com", "not encrypted"},
		{"tls https", Var{Type: URL, Rules: Rules{RequireTLS: true}}, "https://api.example.com", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.v.Name = "V"
			if errs := checkRules(c.v.Type, &c.v.Rules); len(errs) > 0 {
				t.Fatal(errs)
			}
			p := strings.Join(checkValue(&c.v, nil, c.val), "; ")
			if c.wants == "" && p != "" || c.wants != "" && !strings.Contains(p, c.wants) {
				t.Errorf("%q: got %q, want %q", c.val, p, c.wants)
			}
		})
	}
}

func TestParseSchemaErrors(t *testing.T) {
	cases := map[string]string{
		"variables:\n  A: {type: number}\n":                                       `unknown type "number"`,
		"variables:\n  A: {type: enum}\n":                                         "needs `values`",
		"variables:\n  A: {type: string, pattern: \"(\"}\n":                       "bad pattern",
		"variables:\n  A: {type: string, min_lenght: 3}\n":                        "min_lenght",
		"variables:\n  A: {type: port, default: 99999}\n":                         "default does not pass",
		"variables:\n  A: {type: string, min: 3}\n":                               "min_length for strings",
		"variables:\n  A: {type: int}\nenvironments: {production: {B: {}}}\n":     "environments.production.B: no such variable",
		"variables:\n  A: {type: int}\nenvironments: {production: {A: {max: x}}}": `"x" is not a whole number`,
		"variables:\n  A: {type: string, schemes: [http]}\n":                      "url only",
		"variables: [A]\n":                                        "mapping",
		"variables: {}\n":                                         "defines no variables",
		"variables:\n  A: {type: string\n":                        "malformed",
		"variables:\n  1A: {type: string}\n":                      "letters, digits",
		"variables:\n  A: {type: int}\nignore_unknown: [\"[\"]\n": "bad pattern",
	}
	for doc, want := range cases {
		_, err := Parse([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", doc, err, want)
		}
	}
	_, err := Parse([]byte("variables:\n  A: {type: number}\n  B: {type: enum}\n"))
	if err == nil || !strings.Contains(err.Error(), "number") || !strings.Contains(err.Error(), "values") {
		t.Errorf("every schema mistake at once: %v", err)
	}
}
