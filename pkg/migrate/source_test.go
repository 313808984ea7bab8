package migrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
)

func TestParse(t *testing.T) {
	m, err := Parse("00007_x.sql", []byte("-- +goose NO TRANSACTION\n-- +goose Up\n-- a comment\nCREATE INDEX CONCURRENTLY a ON t (x);\n\n-- +goose StatementBegin\nDO $$ BEGIN\n  PERFORM 1;\nEND $$;\n-- +goose StatementEnd\n-- +goose Down\nDROP INDEX a;\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != 7 || m.UseTx || !m.HasDown || len(m.Up) != 2 || m.Up[0].Line != 4 || m.Up[1].Line != 7 || len(m.Down) != 1 {
		t.Errorf("parsed: %+v", m)
	}
	if !strings.HasPrefix(m.Up[1].SQL, "DO $$ BEGIN") {
		t.Errorf("block statement: %q", m.Up[1].SQL)
	}
}

func TestParseErrors(t *testing.T) {
	cases := map[string]string{
		"CREATE TABLE a (id int);\n":                               "SQL before '-- +goose Up'",
		"-- just a comment\n":                                      "no '-- +goose Up' line",
		"-- +goose Up\nCREATE TABLE a (id int)\n":                  "no terminating semicolon",
		"-- +goose Up\n-- +goose StatementBegin\nSELECT 1;\n":      "StatementBegin' without StatementEnd",
		"-- +goose Up\n-- +goose Frobnicate\n":                     "unknown goose annotation",
		"-- +goose Up\n-- deployctl:irreversible\nDROP TABLE a;\n": "needs a reason",
		"-- +goose Up\nSELECT 1;\n-- +goose Up\n":                  "duplicate",
	}
	for body, want := range cases {
		_, err := Parse("00001_x.sql", []byte(body))
		var se *SourceError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want a SourceError with %q", body, err, want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "nope")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing folder: %v", err)
	}
	dir := t.TempDir()
	for _, n := range []string{"001_a.sql", "1_b.sql"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("-- +goose Up\nSELECT 1;\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "README.md"), []byte("not a migration"), 0o644)
	os.WriteFile(filepath.Join(dir, "helpers.sql"), []byte("not versioned"), 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "duplicate migration version 1") {
		t.Errorf("duplicates: %v", err)
	}
}

func TestSetHash(t *testing.T) {
	a, _ := Parse("00001_a.sql", []byte("-- +goose Up\nSELECT 1;\n"))
	b, _ := Parse("00002_b.sql", []byte("-- +goose Up\nSELECT 2;\n"))
	if SetHash(nil) != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Errorf("empty set: %s", SetHash(nil))
	}
	if SetHash([]Migration{a, b}) != SetHash([]Migration{b, a}) {
		t.Errorf("order matters")
	}
	b2, _ := Parse("00002_b.sql", []byte("-- +goose Up\nSELECT 3;\n"))
	if SetHash([]Migration{a, b}) == SetHash([]Migration{a, b2}) {
		t.Errorf("content does not matter")
	}
	// The documented definition, spelled out.
	want := sha256hex("1 " + sha256hex("-- +goose Up\nSELECT 1;\n") + "\n" + "2 " + sha256hex("-- +goose Up\nSELECT 2;\n") + "\n")
	if got := SetHash([]Migration{a, b}); got != want {
		t.Errorf("SetHash = %s, want %s", got, want)
	}
}

func TestAppNameRoundTrip(t *testing.T) {
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	app := AppName(provider.Holder{Actor: "alice", Host: "build7.example.com", PID: 4242, Command: "migrate up"})
	h := parseHolder(app, 99, since, "10.0.0.1")
	if h.Actor != "alice" || h.Host != "build7" || h.PID != 4242 || h.Command != "migrate up" || !h.Since.Equal(since) {
		t.Errorf("%q → %+v", app, h)
	}
	long := AppName(provider.Holder{Actor: strings.Repeat("a", 80), Host: "h", PID: 1, Command: "migrate up"})
	if len(long) > 63 || parseHolder(long, 1, since, "").PID != 1 {
		t.Errorf("long name %q", long)
	}
	if h := parseHolder("psql", 77, since, "10.0.0.9"); h.PID != 77 || h.Host != "10.0.0.9" {
		t.Errorf("foreign holder: %+v", h)
	}
}

// mapStore is a StateStore for tests of the rehearsal API.
type mapStore struct {
	mu   sync.Mutex
	data map[string][]byte
	ver  map[string]int
}

func (s *mapStore) Load(_ context.Context, key string) ([]byte, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.data[key]
	if !ok {
		return nil, "", provider.ErrNotFound
	}
	return d, string(rune('0' + s.ver[key])), nil
}

func (s *mapStore) Save(_ context.Context, key string, data []byte, version string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := ""
	if _, ok := s.data[key]; ok {
		cur = string(rune('0' + s.ver[key]))
	}
	if cur != version {
		return provider.ErrConflict
	}
	s.data[key], s.ver[key] = data, s.ver[key]+1
	return nil
}

func TestRehearsalStore(t *testing.T) {
	st := &mapStore{data: map[string][]byte{}, ver: map[string]int{}}
	ctx := t.Context()
	if _, err := LoadRehearsal(ctx, st, "abc"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
	r := &Rehearsal{SetHash: "abc", OK: false, At: time.Unix(0, 0).UTC(), Database: "postgres://u:xxxxx@h/db", Error: "boom",
		Migrations: []RehearsedMigration{{Version: 1, File: "00001_a.sql", UpMS: 3, DownMS: -1, UpAgainMS: -1}}}
	if err := SaveRehearsal(ctx, st, r); err != nil {
		t.Fatal(err)
	}
	r.OK, r.Error = true, ""
	if err := SaveRehearsal(ctx, st, r); err != nil {
		t.Fatal(err)
	}
	got, err := LoadRehearsal(ctx, st, "abc")
	if err != nil || !got.OK || got.Migrations[0].DownMS != -1 || got.Database != r.Database {
		t.Errorf("loaded %+v, %v", got, err)
	}
	if _, ok := st.data["migrate.rehearsal.abc"]; !ok {
		t.Errorf("key: %v", st.data)
	}
}

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
