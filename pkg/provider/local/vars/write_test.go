package vars

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
)

const original = "# the API's settings\r\n" +
	"NODE_ENV=staging\r\n" +
	"\r\n" +
	"# signing\r\n" +
	"export JWT_SECRET=\"old-CANARY-value\" # keep me\r\n" +
	"KEY=\"-----BEGIN-----\r\nabc\r\n-----END-----\"\r\n" +
	"PORT=3000\r\n"

func writeEnv(t *testing.T, content string) *Dotenv {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, ".env")
	if err := os.WriteFile(file, []byte(content), 0o640); err != nil {
		t.Fatal(err)
	}
	return &Dotenv{File: file, Display: ".env"}
}

func loadMap(t *testing.T, d *Dotenv) map[string]string {
	t.Helper()
	vs, err := d.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, v := range vs {
		m[v.Name] = v.Value
	}
	return m
}

var at = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func TestDotenvWriteKeepsEverythingElse(t *testing.T) {
	d := writeEnv(t, original)
	w := provider.VariableWrite{
		Set:     map[string]string{"JWT_SECRET": `new "quoted" $value`, "JWT_SECRET_PREVIOUS": "old-CANARY-value", "KEY": "k2", "ADDED": "x y"},
		Rotated: []string{"JWT_SECRET"}, At: at,
	}
	if err := d.WriteVariables(t.Context(), w); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(d.File)
	want := "# the API's settings\r\n" +
		"NODE_ENV=staging\r\n" +
		"\r\n" +
		"# signing\r\n" +
		"# deployctl: JWT_SECRET rotated 2026-11-25T12:00:00Z\r\n" +
		"export JWT_SECRET=\"new \\\"quoted\\\" \\$value\" # keep me\r\n" +
		"JWT_SECRET_PREVIOUS=old-CANARY-value\r\n" +
		"KEY=k2\r\n" +
		"PORT=3000\r\n" +
		"ADDED=\"x y\"\r\n"
	if string(raw) != want {
		t.Errorf("rewritten file:\n%q\nwant\n%q", raw, want)
	}
	m := loadMap(t, d)
	if m["JWT_SECRET"] != `new "quoted" $value` || m["JWT_SECRET_PREVIOUS"] != "old-CANARY-value" || m["PORT"] != "3000" || m["ADDED"] != "x y" {
		t.Errorf("values: %v", m)
	}
	if info, _ := os.Stat(d.File); info.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640 kept", info.Mode().Perm())
	}
	// A second rotation updates the comment in place, adds no other.
	w.Set = map[string]string{"JWT_SECRET": "third", "JWT_SECRET_PREVIOUS": `new "quoted" $value`}
	w.At = at.Add(time.Hour)
	if err := d.WriteVariables(t.Context(), w); err != nil {
		t.Fatal(err)
	}
	raw, _ = os.ReadFile(d.File)
	if strings.Count(string(raw), "# deployctl:") != 1 {
		t.Errorf("one rotation comment expected:\n%s", raw)
	}
	times, err := d.RotatedAt(t.Context())
	if err != nil || !times["JWT_SECRET"].Equal(at.Add(time.Hour)) || len(times) != 1 {
		t.Errorf("rotated at: %v %v", times, err)
	}
}

func TestDotenvWriteFailingMidwayKeepsOldFile(t *testing.T) {
	d := writeEnv(t, original)
	renameFile = func(string, string) error {
		return &os.LinkError{Op: "rename", Old: "a", New: "b", Err: errors.New("disk on fire")}
	}
	t.Cleanup(func() { renameFile = os.Rename })
	err := d.WriteVariables(t.Context(), provider.VariableWrite{Set: map[string]string{"JWT_SECRET": "new-CANARY"}, Rotated: []string{"JWT_SECRET"}, At: at})
	if err == nil || !strings.Contains(err.Error(), "was not changed and keeps the old values") || strings.Contains(err.Error(), "CANARY") {
		t.Fatalf("error: %v", err)
	}
	raw, _ := os.ReadFile(d.File)
	if string(raw) != original {
		t.Errorf("the file changed:\n%s", raw)
	}
	left, _ := os.ReadDir(filepath.Dir(d.File))
	if len(left) != 1 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func TestDotenvWriteFollowsSymlink(t *testing.T) {
	d := writeEnv(t, "A=1\n")
	link := filepath.Join(filepath.Dir(d.File), "link.env")
	if err := os.Symlink(d.File, link); err != nil {
		t.Fatal(err)
	}
	l := &Dotenv{File: link, Display: "link.env"}
	if err := l.WriteVariables(t.Context(), provider.VariableWrite{Set: map[string]string{"A": "2"}}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 || loadMap(t, d)["A"] != "2" {
		t.Errorf("the link was replaced or the target not written")
	}
}

func TestProcessIsNotWritable(t *testing.T) {
	p := &Process{Environ: os.Environ}
	if err := p.Writable([]string{"A"}); !errors.Is(err, provider.ErrUnsupported) || !strings.Contains(err.Error(), "dotenv") {
		t.Errorf("process: %v", err)
	}
}

// An entry's own " # note" stays on its line; a # inside quotes is the value.
func TestDotenvWriteKeepsInlineComments(t *testing.T) {
	d := writeEnv(t, "API_KEY=old-CANARY # owner: payments team\nQUOTED=\"a # b\" # real note\nBARE=x#y\n")
	w := provider.VariableWrite{Set: map[string]string{"API_KEY": "new1", "QUOTED": "c # d", "BARE": "z"}, At: at}
	if err := d.WriteVariables(t.Context(), w); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(d.File)
	want := "API_KEY=new1 # owner: payments team\nQUOTED=\"c # d\" # real note\nBARE=z\n"
	if string(raw) != want {
		t.Errorf("rewritten file:\n%q\nwant\n%q", raw, want)
	}
	if m := loadMap(t, d); m["API_KEY"] != "new1" || m["QUOTED"] != "c # d" || m["BARE"] != "z" {
		t.Errorf("values: %v", m)
	}
	if strings.Contains(string(raw), "CANARY") {
		t.Errorf("the old value is still in the file:\n%s", raw)
	}
}
