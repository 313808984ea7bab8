// Package vars holds the local variable sources: dotenv files and the
// process environment, and the dotenv reader itself.
package vars

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
)

// Entry is one NAME=VALUE of a dotenv file.
type Entry struct {
	Name  string
	Value string
	Line  int // where the entry starts
	End   int // where it ends (a quoted value may span lines)
	// Export says the line starts with "export ".
	Export bool
}

// SyntaxError is a malformed line. Its message never repeats the line:
// a broken line may well hold a secret.
type SyntaxError struct {
	File string
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// ReadFile parses the dotenv file at path; errors name it as display.
func ReadFile(path, display string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(display, f)
}

// Parse reads a dotenv document. It accepts what the common dotenv readers
// accept: comments (# at the start of a line, or after whitespace in an
// unquoted value), blank lines, an optional "export " prefix, spaces around
// "=", single quotes (literal), double quotes (with \n \r \t \" \\ \$
// escapes), values spanning lines inside quotes, CRLF line ends and a UTF-8
// byte order mark. Values are taken literally: ${VAR} is not expanded, so
// what is validated is exactly what is written. A name given twice keeps
// the later value. name is used in error messages.
func Parse(name string, r io.Reader) ([]Entry, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
	text := strings.ReplaceAll(string(raw), "\r\n", "\n")
	p := &parser{file: name, lines: strings.Split(text, "\n")}
	return p.parse()
}

type parser struct {
	file  string
	lines []string
	i     int // index of the current line
}

func (p *parser) errorf(line int, format string, a ...any) error {
	return &SyntaxError{File: p.file, Line: line, Msg: fmt.Sprintf(format, a...)}
}

func (p *parser) parse() ([]Entry, error) {
	var out []Entry
	for ; p.i < len(p.lines); p.i++ {
		line := strings.TrimLeft(p.lines[p.i], " \t")
		if line == "" || strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		e, err := p.entry(line)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func (p *parser) entry(line string) (Entry, error) {
	start := p.i + 1
	rest, export := cutExport(line)
	if export {
		line = rest
	}
	name, value, ok := strings.Cut(line, "=")
	if !ok {
		return Entry{}, p.errorf(start, "expected NAME=VALUE")
	}
	name = strings.TrimRight(name, " \t")
	if name == "" {
		return Entry{}, p.errorf(start, "missing variable name before =")
	}
	if !validName(name) {
		return Entry{}, p.errorf(start, "invalid variable name: use letters, digits and underscores, not starting with a digit")
	}
	trimmed := strings.TrimLeft(value, " \t")
	if strings.HasPrefix(trimmed, "#") && trimmed != value {
		trimmed = "" // "NAME= # comment": an empty value and a comment
	}
	v, err := p.value(trimmed)
	if err != nil {
		return Entry{}, err
	}
	return Entry{Name: name, Value: v, Line: start, End: p.i + 1, Export: export}, nil
}

func cutExport(line string) (string, bool) {
	rest, ok := strings.CutPrefix(line, "export")
	if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
		return line, false
	}
	return strings.TrimLeft(rest, " \t"), true
}

func validName(n string) bool {
	for i, r := range n {
		letter := r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !letter && !(i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return n != ""
}

func (p *parser) value(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	switch v[0] {
	case '"':
		return p.quoted(v[1:], '"')
	case '\'':
		return p.quoted(v[1:], '\'')
	}
	return unquoted(v), nil
}

// unquoted strips a trailing " # comment" and surrounding whitespace.
func unquoted(v string) string {
	for i := 1; i < len(v); i++ {
		if v[i] == '#' && (v[i-1] == ' ' || v[i-1] == '\t') {
			v = v[:i]
			break
		}
	}
	return strings.TrimRight(v, " \t\r")
}

// quoted reads a quoted value starting after its opening quote, across
// lines if needed, and checks nothing but a comment follows it.
func (p *parser) quoted(rest string, q byte) (string, error) {
	start := p.i + 1
	var b strings.Builder
	for {
		end, done := scan(&b, rest, q)
		if done {
			tail := strings.TrimSpace(rest[end+1:])
			if tail != "" && !strings.HasPrefix(tail, "#") {
				return "", p.errorf(p.i+1, "unexpected text after the closing quote; quote the whole value or add # before a comment")
			}
			return b.String(), nil
		}
		if p.i+1 >= len(p.lines) {
			kind := map[byte]string{'"': "double", '\'': "single"}[q]
			return "", p.errorf(start, "unterminated %s-quoted value: add the closing %c", kind, q)
		}
		b.WriteByte('\n')
		p.i++
		rest = p.lines[p.i]
	}
}

// scan copies s into b up to the closing quote q, unescaping inside double
// quotes. It returns the index of the closing quote and whether it was found.
func scan(b *strings.Builder, s string, q byte) (int, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == q:
			return i, true
		case c == '\\' && q == '"' && i+1 < len(s):
			i++
			b.WriteString(unescape(s[i]))
		default:
			b.WriteByte(c)
		}
	}
	return len(s), false
}

func unescape(c byte) string {
	switch c {
	case 'n':
		return "\n"
	case 'r':
		return "\r"
	case 't':
		return "\t"
	case '"', '\\', '$', '\'':
		return string(c)
	}
	return "\\" + string(c)
}
