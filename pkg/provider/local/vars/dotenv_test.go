package vars

import (
	"errors"
	"strings"
	"testing"
)

func parse(t *testing.T, doc string) map[string]Entry {
	t.Helper()
	es, err := Parse("test.env", strings.NewReader(doc))
	if err != nil {
		t.Fatalf("%q: %v", doc, err)
	}
	m := map[string]Entry{}
	for _, e := range es {
		m[e.Name] = e
	}
	return m
}

func TestParseEdgeCases(t *testing.T) {
	cases := []struct {
		doc, name, want string
	}{
		{"A=1", "A", "1"},
		{"A = 1  ", "A", "1"},
		{"export A=1", "A", "1"},
		{"export\tA=1", "A", "1"},
		{"exportA=1", "exportA", "1"},
		{"A=", "A", ""},
		{"A= # only a comment", "A", ""},
		{"A=value # comment", "A", "value"},
		{"A=val#ue", "A", "val#ue"},
		{"A=#notacomment", "A", "#notacomment"},
		{`A="quoted # not a comment"`, "A", "quoted # not a comment"},
		{`A="x" # comment`, "A", "x"},
		{`A='single $HOME \n literal'`, "A", `single $HOME \n literal`},
		{`A="esc \" \\ \n \t \$HOME \q"`, "A", "esc \" \\ \n \t $HOME \\q"},
		{`A="it's"`, "A", "it's"},
		{`A='say "hi"'`, "A", `say "hi"`},
		{"A=${B}", "A", "${B}"},
		{"A=a=b=c", "A", "a=b=c"},
		{"\xef\xbb\xbfA=bom", "A", "bom"},
		{"A=crlf\r\nB=2\r\n", "A", "crlf"},
		{"A=\"line1\r\nline2\"\r\n", "A", "line1\nline2"},
		{"A=\"-----BEGIN KEY-----\nabc\n-----END KEY-----\"\nB=1", "A", "-----BEGIN KEY-----\nabc\n-----END KEY-----"},
		{"A='multi\n\nline'", "A", "multi\n\nline"},
		{"# comment\n\n   # indented comment\n  A=indented", "A", "indented"},
		{"A=1\nA=2", "A", "2"},
		{"a_b9=lower", "a_b9", "lower"},
	}
	for _, c := range cases {
		got := parse(t, c.doc)[c.name]
		if got.Value != c.want {
			t.Errorf("%q: %s=%q, want %q", c.doc, c.name, got.Value, c.want)
		}
	}
}

func TestParseLineNumbers(t *testing.T) {
	m := parse(t, "# c\nA=1\nB=\"x\ny\"\r\nC=3\n")
	if m["A"].Line != 2 || m["B"].Line != 3 || m["C"].Line != 5 {
		t.Errorf("lines: %+v", m)
	}
}

func TestParseErrorsNameFileAndLine(t *testing.T) {
	const secret = "s3cr3t-CANARY"
	cases := []struct{ doc, want string }{
		{"A=1\n" + secret, "test.env:2: expected NAME=VALUE"},
		{"A=1\n=" + secret, "test.env:2: missing variable name"},
		{"A=1\n\n1A=" + secret, "test.env:3: invalid variable name"},
		{"MY-VAR=" + secret, "test.env:1: invalid variable name"},
		{"A=1\nB=\"" + secret + "\nC=2\n", "test.env:2: unterminated double-quoted value"},
		{"B='" + secret, "test.env:1: unterminated single-quoted value"},
		{"A=1\nB=\"" + secret + "\" trailing", "test.env:2: unexpected text after the closing quote"},
		{"B=\"a\nb\" " + secret, "test.env:2: unexpected text"},
	}
	for _, c := range cases {
		_, err := Parse("test.env", strings.NewReader(c.doc))
		var se *SyntaxError
		if !errors.As(err, &se) || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.doc, err, c.want)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error repeats the line: %v", err)
		}
	}
}
