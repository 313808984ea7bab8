package vars

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
)

var (
	_ provider.VariableWriter = (*Dotenv)(nil)
	_ provider.RotationTimes  = (*Dotenv)(nil)
	_ provider.VariableWriter = (*Process)(nil)
)

// rotatedComment is the line deployctl keeps above a rotated variable:
// "# deployctl: JWT_SECRET rotated 2026-11-25T12:00:00Z".
var rotatedComment = regexp.MustCompile(`^#\s*deployctl:\s+([A-Za-z_][A-Za-z0-9_]*)\s+rotated\s+(\S+)\s*$`)

// renameFile publishes the rewritten file; tests make it fail.
var renameFile = os.Rename

// Where names the file for people.
func (d *Dotenv) Where() string { return "dotenv file " + d.Display }

// Writable: every name can be written to a dotenv file.
func (d *Dotenv) Writable([]string) error { return nil }

// WriteVariables rewrites the file with w's values: an existing entry is
// replaced where it stands, a new NAME_PREVIOUS goes right after NAME, any
// other new name at the end; comments, blank lines, order and every other
// entry stay as they were. The new file replaces the old one atomically
// (a temporary file in the same folder, synced, then renamed), so a
// failure at any point leaves the old file, and its values, in place.
func (d *Dotenv) WriteVariables(ctx context.Context, w provider.VariableWrite) error {
	file, err := filepath.EvalSymlinks(d.File)
	if err != nil {
		return d.failed(err)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return d.failed(err)
	}
	info, err := os.Stat(file)
	if err != nil {
		return d.failed(err)
	}
	out, err := rewrite(d.Display, raw, w)
	if err != nil {
		return d.failed(err)
	}
	if err := publish(file, out, info.Mode().Perm()); err != nil {
		return d.failed(err)
	}
	return nil
}

// failed says the file was left as it was; it never names this machine's
// paths beyond the configured one.
func (d *Dotenv) failed(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = fmt.Errorf("%s %s", pe.Op, pe.Err)
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		err = fmt.Errorf("%s: %v", le.Op, le.Err)
	}
	return fmt.Errorf("write %s: %w; the file was not changed and keeps the old values", d.Display, err)
}

// RotatedAt reads the rotation comments of the file.
func (d *Dotenv) RotatedAt(ctx context.Context) (map[string]time.Time, error) {
	raw, err := os.ReadFile(d.File)
	if errors.Is(err, os.ErrNotExist) && d.Optional {
		return nil, nil
	}
	if err != nil {
		return nil, d.failedRead(err)
	}
	out := map[string]time.Time{}
	for _, line := range splitLines(raw) {
		if m := rotatedComment.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			if t, err := time.Parse(time.RFC3339, m[2]); err == nil {
				out[m[1]] = t
			}
		}
	}
	return out, nil
}

func (d *Dotenv) failedRead(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("read variables file %s: %w", d.Display, err)
}

func splitLines(raw []byte) []string {
	text := strings.TrimPrefix(string(raw), "\xef\xbb\xbf")
	return strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
}

// rewrite returns the document raw with w applied, and checks that it
// reads back with exactly the new values.
func rewrite(display string, raw []byte, w provider.VariableWrite) ([]byte, error) {
	bom := strings.HasPrefix(string(raw), "\xef\xbb\xbf")
	eol := "\n"
	if strings.Contains(string(raw), "\r\n") {
		eol = "\r\n"
	}
	entries, err := Parse(display, strings.NewReader(string(raw)))
	if err != nil {
		return nil, err
	}
	lines := splitLines(raw)
	last := map[string]Entry{}
	for _, e := range entries {
		last[e.Name] = e
	}
	doc := newDocument(lines, last)
	rotated := map[string]bool{}
	for _, n := range w.Rotated {
		rotated[n] = true
	}
	for _, name := range sortedNames(w.Set) {
		comment := ""
		if rotated[name] {
			comment = fmt.Sprintf("# deployctl: %s rotated %s", name, w.At.UTC().Format(time.RFC3339))
		}
		doc.set(name, w.Set[name], comment)
	}
	text := strings.Join(doc.lines(), eol)
	if bom {
		text = "\xef\xbb\xbf" + text
	}
	if err := readsBack(display, text, w.Set); err != nil {
		return nil, err
	}
	return []byte(text), nil
}

func sortedNames(m map[string]string) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// readsBack parses text and compares the values written.
func readsBack(display, text string, set map[string]string) error {
	es, err := Parse(display, strings.NewReader(text))
	if err != nil {
		return fmt.Errorf("the rewritten file would not parse: %w", err)
	}
	got := map[string]string{}
	for _, e := range es {
		got[e.Name] = e.Value
	}
	for n, v := range set {
		if got[n] != v {
			return fmt.Errorf("the rewritten file would not read back %s as written", n)
		}
	}
	return nil
}

// publish writes data to a temporary file beside file and renames it over.
func publish(file string, data []byte, mode os.FileMode) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".rotate-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(mode); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = renameFile(tmp.Name(), file); err != nil {
		return err
	}
	if dir, derr := os.Open(filepath.Dir(file)); derr == nil {
		_ = dir.Sync()
		_ = dir.Close()
	}
	return nil
}

// Writable: the process environment is read-only.
func (p *Process) Writable([]string) error {
	return fmt.Errorf("the process environment: writing variables is %w: set them where the application's process is started, or move them to a dotenv file", provider.ErrUnsupported)
}

// WriteVariables refuses, as Writable.
func (p *Process) WriteVariables(context.Context, provider.VariableWrite) error {
	return p.Writable(nil)
}

// Where names the source for people.
func (p *Process) Where() string { return "the process environment" }

// document is a dotenv file as blocks: one per entry (its lines) and one
// per other line, so that entries are replaced without touching the rest.
type document struct {
	blocks []block
}

type block struct {
	name   string // the entry's name; "" for a comment or blank line
	export bool
	lines  []string
}

func newDocument(lines []string, last map[string]Entry) *document {
	starts := map[int]Entry{}
	for _, e := range last {
		starts[e.Line-1] = e
	}
	d := &document{}
	for i := 0; i < len(lines); i++ {
		if e, ok := starts[i]; ok {
			d.blocks = append(d.blocks, block{name: e.Name, export: e.Export, lines: lines[i:e.End]})
			i = e.End - 1
			continue
		}
		d.blocks = append(d.blocks, block{lines: []string{lines[i]}})
	}
	return d
}

func (d *document) lines() []string {
	var out []string
	for _, b := range d.blocks {
		out = append(out, b.lines...)
	}
	return out
}

func (d *document) find(name string) int {
	for i, b := range d.blocks {
		if b.name == name {
			return i
		}
	}
	return -1
}

func (d *document) findComment(name string) int {
	for i, b := range d.blocks {
		if m := rotatedComment.FindStringSubmatch(strings.TrimSpace(strings.Join(b.lines, ""))); b.name == "" && m != nil && m[1] == name {
			return i
		}
	}
	return -1
}

func (d *document) insert(at int, bs ...block) {
	d.blocks = append(d.blocks[:at], append(bs, d.blocks[at:]...)...)
}

// set gives name its value, with comment (if any) on the line above.
func (d *document) set(name, value, comment string) {
	i := d.find(name)
	if i < 0 {
		i = d.appendAt(name)
		d.insert(i, block{name: name})
	}
	b := &d.blocks[i]
	line := name + "=" + formatValue(value)
	if b.export {
		line = "export " + line
	}
	if len(b.lines) == 1 {
		line += inlineComment(b.lines[0]) // "KEY=old # who owns it" keeps its note
	}
	b.lines = []string{line}
	if comment == "" {
		return
	}
	if c := d.findComment(name); c >= 0 {
		d.blocks[c].lines = []string{comment}
		return
	}
	d.insert(i, block{lines: []string{comment}})
}

// appendAt is where a new entry goes: after its base variable for a
// NAME_PREVIOUS, else at the end (before the final line break).
func (d *document) appendAt(name string) int {
	if base, ok := strings.CutSuffix(name, "_PREVIOUS"); ok {
		if i := d.find(base); i >= 0 {
			return i + 1
		}
	}
	n := len(d.blocks)
	if n > 0 && d.blocks[n-1].name == "" && len(d.blocks[n-1].lines) == 1 && d.blocks[n-1].lines[0] == "" {
		return n - 1
	}
	return n
}

var bare = regexp.MustCompile(`^[A-Za-z0-9_\-./+=:@%,]*$`)

// formatValue writes v bare when that reads back as v, else double-quoted.
func formatValue(v string) string {
	if bare.MatchString(v) {
		return v
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`, "$", `\$`)
	return `"` + r.Replace(v) + `"`
}

// inlineComment is the " # comment" that ends a one-line entry, outside
// its quotes ("" when there is none).
func inlineComment(line string) string {
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == '\\' && quote == '"' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			if i > 0 && line[i-1] == '=' {
				quote = c
			}
		case c == '#' && i > 0 && (line[i-1] == ' ' || line[i-1] == '\t'):
			j := i
			for j > 0 && (line[j-1] == ' ' || line[j-1] == '\t') {
				j--
			}
			return line[j:]
		}
	}
	return ""
}
