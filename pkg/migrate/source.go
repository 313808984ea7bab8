// Package migrate runs SQL migrations with goose v3's Provider over pgx and
// closes the gaps operators meet in plain goose: a bounded advisory lock that
// names its holder, sha256 checksums of applied files, a dirty mark after a
// failed migration that ran outside a transaction, a linter, a read-only
// plan, and rehearsals on a scratch copy of the database.
package migrate

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pressly/goose/v3"
)

// IrreversibleAnnotation marks a migration whose down section cannot undo
// it: "-- deployctl:irreversible <reason>". The reason is required.
const IrreversibleAnnotation = "-- deployctl:irreversible"

// Statement is one SQL statement of a migration and the line it starts on.
type Statement struct {
	SQL  string `json:"sql"`
	Line int    `json:"line"`
}

// Migration is one SQL migration file, parsed the way goose parses it.
type Migration struct {
	Version int64       `json:"version"`
	File    string      `json:"file"` // base name
	Path    string      `json:"-"`
	SHA256  string      `json:"sha256"` // of the file's bytes, hex
	Content []byte      `json:"-"`
	UseTx   bool        `json:"transaction"`
	HasDown bool        `json:"has_down"` // a down section with at least one statement
	Up      []Statement `json:"-"`
	Down    []Statement `json:"-"`
	// Irreversible is set by IrreversibleAnnotation, with its reason.
	Irreversible       bool   `json:"irreversible"`
	IrreversibleReason string `json:"irreversible_reason,omitempty"`
}

// SourceError is a migrations folder or file that cannot be used as it is
// (missing folder, malformed file, duplicate versions): a usage error.
type SourceError struct{ Msg string }

func (e *SourceError) Error() string { return e.Msg }

func sourceErrorf(format string, a ...any) error {
	return &SourceError{Msg: fmt.Sprintf(format, a...)}
}

// Load reads and parses every NUMBER_name.sql file of dir, sorted by version.
// Every file is parsed, so a malformed one is reported before anything runs.
func Load(dir string) ([]Migration, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, sourceErrorf("migrations folder %s does not exist: create it with 'deployctl migrate create NAME', or pass --dir", dir)
	}
	if err != nil {
		return nil, sourceErrorf("read migrations folder %s: %v", dir, err)
	}
	var out []Migration
	seen := map[int64]string{}
	for _, e := range entries {
		if e.IsDir() || filepath.Ext(e.Name()) != ".sql" {
			continue
		}
		v, err := goose.NumericComponent(e.Name())
		if err != nil {
			continue // not a migration: goose ignores it too
		}
		if prev, dup := seen[v]; dup {
			return nil, sourceErrorf("duplicate migration version %d: %s and %s; renumber one of them", v, prev, e.Name())
		}
		seen[v] = e.Name()
		content, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, sourceErrorf("read %s: %v", e.Name(), err)
		}
		m, err := Parse(e.Name(), content)
		if err != nil {
			return nil, err
		}
		m.Path = filepath.Join(dir, e.Name())
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Parse parses one migration file named name.
func Parse(name string, content []byte) (Migration, error) {
	v, err := goose.NumericComponent(name)
	if err != nil {
		return Migration{}, sourceErrorf("%s: %v", name, err)
	}
	sum := sha256.Sum256(content)
	m := Migration{Version: v, File: name, SHA256: hex.EncodeToString(sum[:]), Content: content, UseTx: true}
	p := &parser{m: &m}
	sc := bufio.NewScanner(bytes.NewReader(content))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		p.line++
		if err := p.feed(sc.Text()); err != nil {
			return Migration{}, sourceErrorf("%s:%d: %v", name, p.line, err)
		}
	}
	if err := p.finish(); err != nil {
		return Migration{}, sourceErrorf("%s: %v", name, err)
	}
	m.HasDown = len(m.Down) > 0
	return m, nil
}

type section int

const (
	secStart section = iota
	secUp
	secDown
)

type parser struct {
	m       *Migration
	line    int
	sec     section
	inBlock bool
	buf     strings.Builder
	start   int
}

func (p *parser) feed(line string) error {
	trimmed := strings.TrimSpace(line)
	if rest, ok := strings.CutPrefix(trimmed, IrreversibleAnnotation); ok {
		p.m.Irreversible = true
		p.m.IrreversibleReason = strings.TrimSpace(rest)
		if p.m.IrreversibleReason == "" {
			return fmt.Errorf("%s needs a reason, e.g. '%s drops the legacy column'", IrreversibleAnnotation, IrreversibleAnnotation)
		}
		return nil
	}
	if strings.HasPrefix(trimmed, "--") && strings.Contains(line, "+goose") {
		return p.annotation(line)
	}
	if p.sec == secStart {
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			return nil
		}
		return errors.New("SQL before '-- +goose Up': every migration starts with a '-- +goose Up' line")
	}
	if p.buf.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "--")) {
		return nil
	}
	if p.buf.Len() == 0 {
		p.start = p.line
	}
	p.buf.WriteString(line)
	p.buf.WriteByte('\n')
	if !p.inBlock && endsWithSemicolon(line) {
		p.flush()
	}
	return nil
}

func (p *parser) annotation(line string) error {
	if strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") {
		return errors.New("a '-- +goose' annotation must start at the beginning of its line")
	}
	cmd := strings.TrimSpace(strings.Replace(strings.ReplaceAll(line, "--", ""), "+goose", "", 1))
	switch cmd {
	case "Up":
		if p.sec != secStart {
			return errors.New("duplicate '-- +goose Up'")
		}
		p.sec = secUp
	case "Down":
		if p.sec != secUp || p.inBlock {
			return errors.New("'-- +goose Down' must follow the up section")
		}
		if strings.TrimSpace(p.buf.String()) != "" {
			return fmt.Errorf("statement at line %d has no terminating semicolon", p.start)
		}
		p.sec = secDown
	case "StatementBegin":
		if p.sec == secStart || p.inBlock {
			return errors.New("'-- +goose StatementBegin' outside a section or nested")
		}
		p.inBlock = true
	case "StatementEnd":
		if !p.inBlock {
			return errors.New("'-- +goose StatementEnd' without StatementBegin")
		}
		p.inBlock = false
		p.flush()
	case "NO TRANSACTION":
		p.m.UseTx = false
	case "ENVSUB ON", "ENVSUB OFF":
	default:
		return fmt.Errorf("unknown goose annotation %q", cmd)
	}
	return nil
}

func (p *parser) flush() {
	sql := strings.TrimSpace(p.buf.String())
	p.buf.Reset()
	if sql == "" {
		return
	}
	st := Statement{SQL: sql, Line: p.start}
	if p.sec == secUp {
		p.m.Up = append(p.m.Up, st)
	} else {
		p.m.Down = append(p.m.Down, st)
	}
}

func (p *parser) finish() error {
	switch {
	case p.sec == secStart:
		return errors.New("no '-- +goose Up' line: every migration starts with '-- +goose Up' (and has a '-- +goose Down' section to undo it)")
	case p.inBlock:
		return errors.New("'-- +goose StatementBegin' without StatementEnd")
	case strings.TrimSpace(p.buf.String()) != "":
		return fmt.Errorf("statement at line %d has no terminating semicolon", p.start)
	}
	return nil
}

// endsWithSemicolon is goose's rule: the last word before a "--" comment
// ends with ";".
func endsWithSemicolon(line string) bool {
	prev := ""
	for _, w := range strings.Fields(line) {
		if strings.HasPrefix(w, "--") {
			break
		}
		prev = w
	}
	return strings.HasSuffix(prev, ";")
}

// SetHash identifies a set of migrations (the pending ones, for rehearsals
// and the checklist): the lower-case hex sha256 of, for each migration in
// ascending version order, the line "<version> <sha256 of the file's bytes,
// lower-case hex>\n". The empty set hashes the empty string.
func SetHash(files []Migration) string {
	sorted := append([]Migration(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Version < sorted[j].Version })
	h := sha256.New()
	for _, m := range sorted {
		sum := m.SHA256
		if sum == "" {
			s := sha256.Sum256(m.Content)
			sum = hex.EncodeToString(s[:])
		}
		fmt.Fprintf(h, "%d %s\n", m.Version, sum)
	}
	return hex.EncodeToString(h.Sum(nil))
}
