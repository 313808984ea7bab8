package filestore_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/local/filestore"
	"github.com/deployctl/deployctl/pkg/provider/providertest"
)

func TestSuite(t *testing.T) {
	providertest.TestBackupStore(t, func(t *testing.T) provider.BackupStore {
		return &filestore.Store{Dir: filepath.Join(t.TempDir(), "backups")}
	})
}

func TestPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "backups")
	s := &filestore.Store{Dir: dir}
	if err := s.Put(t.Context(), "id1/dump.zst", bytes.NewReader([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "id1"): 0o700, filepath.Join(dir, "id1", "dump.zst"): 0o600} {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s has mode %o, want %o", p, got, want)
		}
	}
}

func TestDeleteRemovesEmptyFolders(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "backups")
	s := &filestore.Store{Dir: dir}
	_ = s.Put(t.Context(), "id1/dump.zst", bytes.NewReader(nil))
	if err := s.Delete(t.Context(), "id1/dump.zst"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "id1")); !os.IsNotExist(err) {
		t.Fatalf("empty folder of a deleted backup stays: %v", err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the store's own folder went away: %v", err)
	}
}

func TestRejectsEscapingNames(t *testing.T) {
	s := &filestore.Store{Dir: t.TempDir()}
	for _, n := range []string{"../x", "a/../../x", "/abs", ""} {
		if err := s.Put(t.Context(), n, bytes.NewReader(nil)); err == nil {
			t.Errorf("Put(%q) accepted a name outside the folder", n)
		}
	}
}

func TestOpenResolvesRelativePath(t *testing.T) {
	base := t.TempDir()
	st, err := filestore.Open(t.Context(), provider.Env{BaseDir: base}, func(v any) error {
		v.(*filestore.Settings).Path = "backups"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := st.(*filestore.Store).Dir; got != filepath.Join(base, "backups") {
		t.Fatalf("Dir = %s", got)
	}
}

// List reads only the folders on the prefix's way, and never misses a name
// the prefix starts: a prefix may end inside a folder's name.
func TestListPrefixesThroughFolders(t *testing.T) {
	s := &filestore.Store{Dir: filepath.Join(t.TempDir(), "backups")}
	all := []string{"20261203T1/manifest.json", "a/b/c", "ab/x", "wal/1/seg1", "wal/10/seg2", "walnut/z"}
	for _, n := range all {
		if err := s.Put(t.Context(), n, bytes.NewReader([]byte("x"))); err != nil {
			t.Fatal(err)
		}
	}
	for _, prefix := range []string{"", "wal/1", "wal/1/", "wal", "wal/", "a/b/c", "a/", "a", "2026", "20261203T1/m", "nothing/"} {
		got, err := s.List(t.Context(), prefix)
		if err != nil {
			t.Fatal(err)
		}
		var names, want []string
		for _, o := range got {
			names = append(names, o.Name)
		}
		for _, n := range all {
			if strings.HasPrefix(n, prefix) {
				want = append(want, n)
			}
		}
		if strings.Join(names, ",") != strings.Join(want, ",") {
			t.Errorf("List(%q) = %v, want %v", prefix, names, want)
		}
	}
}
