package migrate

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Template is the body of a new migration.
const Template = `-- +goose Up
-- Write the change here. Prefer CREATE INDEX CONCURRENTLY (alone in a file
-- marked NO TRANSACTION), constraints with NOT VALID, and columns that are
-- nullable or have a default. 'deployctl migrate plan' lints it.

-- +goose Down
-- Undo the change here. If it cannot be undone, replace this section by a
-- line '-- deployctl:irreversible <reason>'.
`

var nonWord = regexp.MustCompile(`[^a-z0-9]+`)

// NewFile names the next migration in dir for name: the next sequential
// number when the folder numbers its files 1, 2, 3…, else a UTC timestamp
// (goose's default), always above every existing version.
func NewFile(dir, name string, now time.Time, existing []Migration) (string, int64, error) {
	slug := strings.Trim(nonWord.ReplaceAllString(strings.ToLower(name), "_"), "_")
	if slug == "" {
		return "", 0, sourceErrorf("invalid migration name %q: use letters and digits, e.g. add_users_email", name)
	}
	var top int64
	for _, m := range existing {
		top = max(top, m.Version)
	}
	var v int64
	var file string
	if len(existing) > 0 && top < 1e9 {
		v = top + 1
		file = fmt.Sprintf("%05d_%s.sql", v, slug)
	} else {
		fmt.Sscan(now.UTC().Format("20060102150405"), &v)
		v = max(v, top+1)
		file = fmt.Sprintf("%d_%s.sql", v, slug)
	}
	return filepath.Join(dir, file), v, nil
}

// Create writes a new migration from Template and returns its path. It
// never overwrites a file.
func Create(dir, name string, now time.Time, existing []Migration) (string, error) {
	path, _, err := NewFile(dir, name, now, existing)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", err
	}
	if _, err := f.WriteString(Template); err != nil {
		f.Close()
		return "", err
	}
	return path, f.Close()
}
