package wal_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/copies"
	"github.com/deployctl/deployctl/pkg/provider/local/filestore"
	"github.com/deployctl/deployctl/pkg/wal"
)

var clock = time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)

func newArchive(t *testing.T) (*wal.Archive, *filestore.Store) {
	t.Helper()
	st := &filestore.Store{Dir: filepath.Join(t.TempDir(), "backups")}
	must(t, os.MkdirAll(st.Dir, 0o700))
	return &wal.Archive{Store: st, StoreName: "folder " + st.Dir, Now: func() time.Time { return clock }}, st
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// segment writes a WAL file of size random-but-compressible bytes.
func segment(t *testing.T, dir, name string, size int) (string, []byte) {
	t.Helper()
	data := bytes.Repeat([]byte("wal record "), size/11+1)[:size]
	_, _ = rand.Read(data[:64])
	p := filepath.Join(dir, name)
	must(t, os.WriteFile(p, data, 0o600))
	return p, data
}

func TestPushFetchRoundTripEncrypted(t *testing.T) {
	a, st := newArchive(t)
	id, err := age.GenerateX25519Identity()
	must(t, err)
	a.Recipients, a.Identities = []age.Recipient{id.Recipient()}, []age.Identity{id}
	dir := t.TempDir()
	for _, name := range []string{"000000010000000000000003", "00000002.history", "000000010000000000000005.partial", "000000010000000000000003.00000028.backup"} {
		p, data := segment(t, dir, name, 1<<20)
		must(t, a.Push(t.Context(), p))
		dest := filepath.Join(dir, "RECOVERYXLOG")
		must(t, a.Fetch(t.Context(), name, dest))
		got, err := os.ReadFile(dest)
		must(t, err)
		if !bytes.Equal(got, data) {
			t.Fatalf("%s: fetched %d bytes, not what was pushed", name, len(got))
		}
	}
	objs, err := st.List(t.Context(), "")
	must(t, err)
	for _, o := range objs {
		if !strings.HasPrefix(o.Name, wal.Prefix) || !strings.HasSuffix(o.Name, ".zst.age") {
			t.Errorf("object %s: want under %s, compressed and encrypted", o.Name, wal.Prefix)
		}
		if o.Size > 1<<19 {
			t.Errorf("object %s is %d bytes: not compressed", o.Name, o.Size)
		}
	}
	if !strings.HasPrefix(objs[0].Name, "wal/00000001/") || !strings.HasPrefix(objs[len(objs)-1].Name, "wal/00000002/00000002.history.") {
		t.Errorf("not one folder per timeline: %v", objs)
	}
	raw, err := st.Get(t.Context(), objs[0].Name)
	must(t, err)
	defer raw.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(raw)
	if bytes.Contains(b.Bytes(), []byte("wal record")) {
		t.Error("the stored object holds plain text")
	}
}

func TestPushIsIdempotentAndNeverOverwrites(t *testing.T) {
	a, st := newArchive(t)
	dir := t.TempDir()
	p, _ := segment(t, dir, "000000010000000000000007", 4096)
	must(t, a.Push(t.Context(), p))
	must(t, a.Push(t.Context(), p)) // PostgreSQL retries after a crash: must succeed
	before, _ := st.List(t.Context(), wal.Prefix)
	if len(before) != 1 {
		t.Fatalf("want one object after two pushes, got %v", before)
	}
	_, other := segment(t, dir, "000000010000000000000007", 4096) // other random bytes, same name
	err := a.Push(t.Context(), p)
	var mm *wal.MismatchError
	if !errors.As(err, &mm) {
		t.Fatalf("push of other content under an archived name: want *MismatchError, got %v", err)
	}
	if !strings.Contains(err.Error(), "000000010000000000000007") || !strings.Contains(err.Error(), mm.Archived) || !strings.Contains(err.Error(), mm.Pushed) || mm.Archived == mm.Pushed {
		t.Errorf("message must name the segment and both checksums: %v", err)
	}
	after, _ := st.List(t.Context(), wal.Prefix)
	if len(after) != 1 || after[0] != before[0] {
		t.Errorf("the archive changed: %v → %v", before, after)
	}
	dest := filepath.Join(dir, "out")
	must(t, a.Fetch(t.Context(), "000000010000000000000007", dest))
	if got, _ := os.ReadFile(dest); bytes.Equal(got, other) {
		t.Error("the archived segment was overwritten")
	}
}

func TestFetchMissingIsNotFound(t *testing.T) {
	a, _ := newArchive(t)
	dest := filepath.Join(t.TempDir(), "RECOVERYHISTORY")
	err := a.Fetch(t.Context(), "00000002.history", dest)
	if !errors.Is(err, wal.ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Errorf("a missing file left %s behind", dest)
	}
}

func TestFetchRefusesCorruptSegment(t *testing.T) {
	a, st := newArchive(t)
	dir := t.TempDir()
	p, _ := segment(t, dir, "000000010000000000000009", 8192)
	must(t, a.Push(t.Context(), p))
	objs, _ := st.List(t.Context(), wal.Prefix)
	// another valid zstd stream under the same object: only the sha256 can tell
	q, _ := segment(t, t.TempDir(), "000000010000000000000009", 8192)
	b, _ := newArchive(t)
	must(t, b.Push(t.Context(), q))
	other, _ := b.Store.List(t.Context(), wal.Prefix)
	rc, err := b.Store.Get(t.Context(), other[0].Name)
	must(t, err)
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(rc)
	rc.Close()
	must(t, os.WriteFile(filepath.Join(st.Dir, objs[0].Name), buf.Bytes(), 0o600))
	dest := filepath.Join(dir, "RECOVERYXLOG")
	err = a.Fetch(t.Context(), "000000010000000000000009", dest)
	var ce *wal.ChecksumError
	if !errors.As(err, &ce) {
		t.Fatalf("want *ChecksumError, got %v", err)
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Error("a corrupt segment was written")
	}
}

func TestPushToMissingFolderIsUnreachable(t *testing.T) {
	a, st := newArchive(t)
	must(t, os.RemoveAll(st.Dir)) // an unmounted volume
	p, _ := segment(t, t.TempDir(), "000000010000000000000001", 1024)
	err := a.Push(t.Context(), p)
	var u *provider.UnreachableError
	if !errors.As(err, &u) || !strings.Contains(err.Error(), st.Dir) {
		t.Fatalf("want an unreachable error naming %s, got %v", st.Dir, err)
	}
	if _, err := os.Stat(st.Dir); !os.IsNotExist(err) {
		t.Error("push created the store folder on the root file system")
	}
}

func TestPushRefusesNonWALName(t *testing.T) {
	a, _ := newArchive(t)
	p, _ := segment(t, t.TempDir(), "postgresql.conf", 100)
	if err := a.Push(t.Context(), p); err == nil || !strings.Contains(err.Error(), "not a WAL file name") {
		t.Fatalf("want a refusal, got %v", err)
	}
}

func TestDeleteKeepsHistoryAndNewer(t *testing.T) {
	a, _ := newArchive(t)
	dir := t.TempDir()
	for _, n := range []string{"000000010000000000000001", "000000010000000000000002", "000000010000000000000003.partial", "00000002.history", "000000020000000000000003", "000000020000000000000004"} {
		p, _ := segment(t, dir, n, 1024)
		must(t, a.Push(t.Context(), p))
	}
	before, _ := wal.ParseName("000000020000000000000003")
	gone, err := a.Delete(t.Context(), before)
	must(t, err)
	var names []string
	left, _ := a.List(t.Context())
	for _, s := range left {
		names = append(names, s.Name)
	}
	if len(gone) != 2 || strings.Join(names, " ") != "000000010000000000000003.partial 00000002.history 000000020000000000000003 000000020000000000000004" {
		t.Errorf("deleted %d, left %v", len(gone), names)
	}
}

// With backup.storage.copies a segment corrupt in one store is fetched from
// the next copy, and the fetch says so; corrupt in every copy, it fails.
func TestFetchReadsTheNextCopyOfACorruptSegment(t *testing.T) {
	primary := &filestore.Store{Dir: filepath.Join(t.TempDir(), "primary")}
	second := &filestore.Store{Dir: filepath.Join(t.TempDir(), "second")}
	must(t, os.MkdirAll(primary.Dir, 0o700))
	must(t, os.MkdirAll(second.Dir, 0o700))
	var notes []string
	st := &copies.Store{Stores: []copies.Named{{Name: "folder primary", Store: primary}, {Name: "folder second", Store: second}}}
	a := &wal.Archive{Store: st, StoreName: "copies", Now: func() time.Time { return clock },
		Notef: func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }}
	dir := t.TempDir()
	p, data := segment(t, dir, "00000001000000000000000A", 8192)
	must(t, a.Push(t.Context(), p))
	objs, err := primary.List(t.Context(), wal.Prefix)
	must(t, err)
	obj := objs[0].Name
	good, err := os.ReadFile(filepath.Join(primary.Dir, obj))
	must(t, err)
	bad := append([]byte(nil), good...)
	bad[len(bad)/2] ^= 0xff
	must(t, os.WriteFile(filepath.Join(primary.Dir, obj), bad, 0o600))

	dest := filepath.Join(dir, "RECOVERYXLOG")
	must(t, a.Fetch(t.Context(), "00000001000000000000000A", dest))
	got, err := os.ReadFile(dest)
	must(t, err)
	if !bytes.Equal(got, data) {
		t.Fatal("fetched the wrong bytes")
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "is corrupt") || !strings.Contains(notes[0], "read the copy in folder second") {
		t.Fatalf("notes %q", notes)
	}

	must(t, os.WriteFile(filepath.Join(second.Dir, obj), bad, 0o600))
	must(t, os.Remove(dest))
	if err := a.Fetch(t.Context(), "00000001000000000000000A", dest); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("corrupt in every copy: %v", err)
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Error("a corrupt segment was written")
	}
}
