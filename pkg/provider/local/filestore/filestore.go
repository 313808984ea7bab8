// Package filestore is the local family's BackupStore: objects are files in
// a folder. A Put writes a hidden temporary file beside its target and
// renames it into place, so a reader never sees a partial object; files are
// 0600 and folders 0700 because backups hold the whole database.
package filestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/deployctl/deployctl/pkg/provider"
)

// Settings is the backup.storage section for provider "file".
type Settings struct {
	Path string `mapstructure:"path"`
}

// String names the storage for people: "folder backups".
func (s *Settings) String() string { return "folder " + s.Path }

// DefaultSettings keeps backups in the project's backups folder.
func DefaultSettings() *Settings { return &Settings{Path: "backups"} }

// Store keeps objects under Dir.
type Store struct {
	Dir string
}

var _ provider.BackupStore = (*Store)(nil)

// TempPrefix starts the name of a file being written. List shows such files
// (left by a process killed during Put) so that prune can remove them.
const TempPrefix = ".tmp-"

// Open builds the store from backup.storage; a relative path is resolved
// against the project folder.
func Open(_ context.Context, env provider.Env, d provider.Decode) (provider.BackupStore, error) {
	var s Settings
	if err := d(&s); err != nil {
		return nil, err
	}
	if s.Path == "" {
		return nil, errors.New("backup.storage.path is empty: set the folder that holds the backups")
	}
	dir := s.Path
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(env.BaseDir, dir)
	}
	return &Store{Dir: dir}, nil
}

// file maps an object name (slash-separated) to its path, refusing names
// that would escape the folder.
func (s *Store) file(name string) (string, error) {
	clean := path.Clean("/" + name)[1:]
	if name == "" || clean != name || strings.HasPrefix(clean, "../") {
		return "", fmt.Errorf("invalid object name %q", name)
	}
	return filepath.Join(s.Dir, filepath.FromSlash(name)), nil
}

// Put writes r to a temporary file, syncs it and renames it to name.
func (s *Store) Put(ctx context.Context, name string, r io.Reader) error {
	dst, err := s.file(name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), TempPrefix+filepath.Base(dst)+"-*")
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
			s.removeEmptyParents(dst)
		}
	}()
	if _, err := io.Copy(tmp, ctxReader{ctx, r}); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return err
	}
	ok = true
	return syncDir(filepath.Dir(dst))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ctxReader stops a copy once ctx is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Get opens name for reading.
func (s *Store) Get(_ context.Context, name string) (io.ReadCloser, error) {
	p, err := s.file(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", name, provider.ErrNotFound)
	}
	return f, err
}

// List returns the objects whose names start with prefix, sorted by name.
// A missing folder is an empty store. Only the folders that can hold such
// names are read.
func (s *Store) List(_ context.Context, prefix string) ([]provider.Object, error) {
	var out []provider.Object
	err := filepath.WalkDir(s.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(s.Dir, p)
		name := filepath.ToSlash(rel)
		if d.IsDir() {
			// only the folders on the prefix's way: a wal push lists one
			// segment and must neither read nor wait on every backup's folder
			if dir := name + "/"; name != "." && !strings.HasPrefix(dir, prefix) && !strings.HasPrefix(prefix, dir) {
				return fs.SkipDir
			}
			return nil
		}
		if !strings.HasPrefix(name, prefix) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		out = append(out, provider.Object{Name: name, Size: info.Size(), ModTime: info.ModTime().UTC()})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// Delete removes name and then its folders as they become empty.
func (s *Store) Delete(_ context.Context, name string) error {
	p, err := s.file(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	s.removeEmptyParents(p)
	return nil
}

// removeEmptyParents removes the folders above p up to the store's own while
// they are empty, so deleted and failed backups leave no folders behind.
func (s *Store) removeEmptyParents(p string) {
	for dir := filepath.Dir(p); dir != s.Dir && strings.HasPrefix(dir, s.Dir); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			return // not empty
		}
	}
}

// CheckStore says, as an unreachable store, that the folder does not
// exist: to a command that expects backups, an unmounted volume and a
// store never written to look alike, and must not look like an empty one.
func (s *Store) CheckStore(context.Context) error {
	st, err := os.Stat(s.Dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return provider.Unreachable("backup folder "+s.Dir, errors.New("it does not exist: its volume is not mounted, or no backup was ever taken here (backup create makes it)"))
	case err != nil:
		return provider.Unreachable("backup folder "+s.Dir, err)
	case !st.IsDir():
		return provider.Unreachable("backup folder "+s.Dir, errors.New("it is not a folder"))
	}
	return nil
}
