package providertest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/deployctl/deployctl/pkg/provider"
)

// TestBackupStore runs the BackupStore suite; newStore returns an empty
// store. Every store passes it: the local folder and S3.
func TestBackupStore(t *testing.T, newStore func(t *testing.T) provider.BackupStore) {
	t.Run("RoundTrip", func(t *testing.T) { bsRoundTrip(t, newStore(t)) })
	t.Run("MissingObject", func(t *testing.T) { bsMissing(t, newStore(t)) })
	t.Run("StreamFromPipe", func(t *testing.T) { bsStream(t, newStore(t)) })
	t.Run("Overwrite", func(t *testing.T) { bsOverwrite(t, newStore(t)) })
	t.Run("ListPrefix", func(t *testing.T) { bsList(t, newStore(t)) })
	t.Run("DeleteIdempotent", func(t *testing.T) { bsDelete(t, newStore(t)) })
	t.Run("FailedPutLeavesNothing", func(t *testing.T) { bsFailedPut(t, newStore(t)) })
	t.Run("CancelledPutLeavesNothing", func(t *testing.T) { bsCancelledPut(t, newStore(t)) })
}

func put(t *testing.T, s provider.BackupStore, name string, data []byte) {
	t.Helper()
	if err := s.Put(t.Context(), name, bytes.NewReader(data)); err != nil {
		t.Fatalf("Put(%s): %v", name, err)
	}
}

func get(t *testing.T, s provider.BackupStore, name string) []byte {
	t.Helper()
	rc, err := s.Get(t.Context(), name)
	if err != nil {
		t.Fatalf("Get(%s): %v", name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return b
}

func names(t *testing.T, s provider.BackupStore, prefix string) []string {
	t.Helper()
	objs, err := s.List(t.Context(), prefix)
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	var out []string
	for _, o := range objs {
		out = append(out, o.Name)
	}
	return out
}

func bsRoundTrip(t *testing.T, s provider.BackupStore) {
	put(t, s, "20260101-000000-ab12/manifest.json", []byte(`{"id":"x"}`))
	put(t, s, "empty", nil)
	if got := string(get(t, s, "20260101-000000-ab12/manifest.json")); got != `{"id":"x"}` {
		t.Fatalf("got %q back", got)
	}
	if got := get(t, s, "empty"); len(got) != 0 {
		t.Fatalf("empty object came back with %d bytes", len(got))
	}
	objs, _ := s.List(t.Context(), "2026")
	if len(objs) != 1 || objs[0].Size != 10 || objs[0].ModTime.IsZero() {
		t.Fatalf("List = %+v, want one object of 10 bytes with a time", objs)
	}
}

func bsMissing(t *testing.T, s provider.BackupStore) {
	if _, err := s.Get(t.Context(), "nope/manifest.json"); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("Get of a missing object: %v, want ErrNotFound", err)
	}
	if got := names(t, s, ""); len(got) != 0 {
		t.Fatalf("empty store lists %v", got)
	}
}

// bsStream writes 20 MiB of incompressible data from a pipe (no length, not
// seekable: several multipart parts on S3) and reads it back intact.
func bsStream(t *testing.T, s provider.BackupStore) {
	const size = 20<<20 + 12345
	src := rand.NewChaCha8([32]byte{7})
	want := sha256.New()
	pr, pw := io.Pipe()
	go func() {
		_, err := io.CopyN(io.MultiWriter(pw, want), src, size)
		pw.CloseWithError(err)
	}()
	if err := s.Put(t.Context(), "big/dump.zst", pr); err != nil {
		t.Fatalf("Put from a pipe: %v", err)
	}
	rc, err := s.Get(t.Context(), "big/dump.zst")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got := sha256.New()
	n, err := io.Copy(got, rc)
	if err != nil || n != size || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatalf("read back %d bytes (err %v), want %d with the same sha256", n, err, size)
	}
}

func bsOverwrite(t *testing.T, s provider.BackupStore) {
	put(t, s, "a/verify.json", []byte("first"))
	put(t, s, "a/verify.json", []byte("second"))
	if got := string(get(t, s, "a/verify.json")); got != "second" {
		t.Fatalf("after overwrite got %q", got)
	}
	if got := names(t, s, "a/"); len(got) != 1 {
		t.Fatalf("overwrite left %v", got)
	}
}

func bsList(t *testing.T, s provider.BackupStore) {
	for _, n := range []string{"b/2", "a/1", "a/2", "ab/1"} {
		put(t, s, n, []byte(n))
	}
	if got := strings.Join(names(t, s, "a/"), ","); got != "a/1,a/2" {
		t.Fatalf("List(a/) = %s", got)
	}
	if got := strings.Join(names(t, s, ""), ","); got != "a/1,a/2,ab/1,b/2" {
		t.Fatalf("List() = %s, want all sorted by name", got)
	}
}

func bsDelete(t *testing.T, s provider.BackupStore) {
	put(t, s, "d/x", []byte("x"))
	for i := range 2 {
		if err := s.Delete(t.Context(), "d/x"); err != nil {
			t.Fatalf("Delete #%d: %v", i+1, err)
		}
	}
	if _, err := s.Get(t.Context(), "d/x"); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("Get after Delete: %v", err)
	}
	if got := names(t, s, ""); len(got) != 0 {
		t.Fatalf("after Delete the store lists %v", got)
	}
}

type failingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	if int64(len(p)) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= int64(n)
	return n, err
}

func bsFailedPut(t *testing.T, s provider.BackupStore) {
	boom := errors.New("pg_dump died")
	for _, size := range []int64{1000, 12 << 20} { // single part and multipart
		r := &failingReader{r: rand.NewChaCha8([32]byte{1}), n: size, err: boom}
		if err := s.Put(t.Context(), "f/dump.zst", r); err == nil {
			t.Fatalf("Put of a failing %d-byte stream succeeded", size)
		}
		assertAbsent(t, s, "f/dump.zst")
	}
}

func bsCancelledPut(t *testing.T, s provider.BackupStore) {
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	go func() {
		_, _ = io.CopyN(pw, rand.NewChaCha8([32]byte{2}), 10<<20)
		cancel()
		_, _ = io.CopyN(pw, rand.NewChaCha8([32]byte{3}), 1<<20)
		pw.CloseWithError(context.Canceled)
	}()
	if err := s.Put(ctx, "c/dump.zst", pr); err == nil {
		t.Fatal("cancelled Put succeeded")
	}
	assertAbsent(t, s, "c/dump.zst")
}

func assertAbsent(t *testing.T, s provider.BackupStore, name string) {
	t.Helper()
	if _, err := s.Get(t.Context(), name); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("after a failed Put, Get(%s) = %v, want ErrNotFound", name, err)
	}
	if got := names(t, s, ""); len(got) != 0 {
		t.Fatalf("after a failed Put the store lists %v", got)
	}
}
