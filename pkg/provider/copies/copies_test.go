package copies_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/copies"
	"github.com/deployctl/deployctl/pkg/provider/local/filestore"
)

type notes struct{ lines []string }

func (n *notes) f(format string, a ...any) { n.lines = append(n.lines, fmt.Sprintf(format, a...)) }
func (n *notes) String() string            { return strings.Join(n.lines, "\n") }

func folders(t *testing.T, k int) ([]copies.Named, []string) {
	t.Helper()
	var out []copies.Named
	var dirs []string
	for i := range k {
		d := filepath.Join(t.TempDir(), fmt.Sprintf("store%d", i))
		dirs = append(dirs, d)
		out = append(out, copies.Named{Name: "folder " + d, Store: &filestore.Store{Dir: d}})
	}
	return out, dirs
}

func payload(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func readAll(t *testing.T, s provider.BackupStore, name string) []byte {
	t.Helper()
	rc, err := s.Get(context.Background(), name)
	if err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// failing fails its Put after reading after bytes (0: at once) and can be
// made unreadable.
type failing struct {
	provider.BackupStore
	after       int64
	unreachable bool
}

func (f *failing) Put(ctx context.Context, name string, r io.Reader) error {
	if f.after > 0 {
		if _, err := io.CopyN(io.Discard, r, f.after); err != nil {
			return err
		}
	}
	return provider.Unreachable("s3 bucket down", errors.New("connection refused"))
}

func (f *failing) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	if f.unreachable {
		return nil, provider.Unreachable("s3 bucket down", errors.New("connection refused"))
	}
	return f.BackupStore.Get(ctx, name)
}

func (f *failing) Delete(ctx context.Context, name string) error {
	if f.unreachable {
		return provider.Unreachable("s3 bucket down", errors.New("connection refused"))
	}
	return f.BackupStore.Delete(ctx, name)
}

func (f *failing) List(ctx context.Context, prefix string) ([]provider.Object, error) {
	if f.unreachable {
		return nil, provider.Unreachable("s3 bucket down", errors.New("connection refused"))
	}
	return f.BackupStore.List(ctx, prefix)
}

func TestCopiesPutWritesEveryStore(t *testing.T) {
	st, dirs := folders(t, 3)
	var w notes
	s := &copies.Store{Stores: st, Warnf: w.f}
	data := payload(t, 3<<20+17) // several chunks
	if err := s.Put(context.Background(), "b1/dump.zst", bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		got, err := os.ReadFile(filepath.Join(d, "b1", "dump.zst"))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: %d bytes, %v", d, len(got), err)
		}
	}
	if len(w.lines) != 0 {
		t.Errorf("warnings: %s", &w)
	}
}

func TestCopiesMinCopies(t *testing.T) {
	for _, after := range []int64{0, 300 << 10} { // fails at once, or mid-stream
		t.Run(fmt.Sprint("after=", after), func(t *testing.T) {
			st, dirs := folders(t, 3)
			st[1].Name = "s3://down"
			st[1].Store = &failing{BackupStore: st[1].Store, after: after}
			data := payload(t, 1<<20)

			var w notes
			s := &copies.Store{Stores: st, Min: 2, Warnf: w.f}
			if err := s.Put(context.Background(), "b1/dump.zst", bytes.NewReader(data)); err != nil {
				t.Fatalf("min 2 of 3: %v", err)
			}
			if !strings.Contains(w.String(), "not written to store s3://down") || !strings.Contains(w.String(), "2 of 3 stores") {
				t.Errorf("warning: %q", w.String())
			}
			for _, i := range []int{0, 2} {
				if got, err := os.ReadFile(filepath.Join(dirs[i], "b1", "dump.zst")); err != nil || !bytes.Equal(got, data) {
					t.Errorf("store %d: %v", i, err)
				}
			}

			s = &copies.Store{Stores: st} // default: all
			err := s.Put(context.Background(), "b2/dump.zst", bytes.NewReader(data))
			var me *copies.MinCopiesError
			if !errors.As(err, &me) || me.Min != 3 || len(me.Wrote) != 2 {
				t.Fatalf("min all: %v", err)
			}
			var un *provider.UnreachableError
			if !errors.As(err, &un) || !strings.Contains(err.Error(), "store s3://down") {
				t.Errorf("error names the store and is unreachable: %v", err)
			}
			for _, d := range dirs {
				if _, err := os.Stat(filepath.Join(d, "b2", "dump.zst")); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s keeps a copy of a failed put: %v", d, err)
				}
			}
		})
	}
}

func TestCopiesUnwritableFolder(t *testing.T) {
	st, dirs := folders(t, 2)
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	st[1].Store = &filestore.Store{Dir: filepath.Join(blocker, "sub")} // cannot be a folder
	s := &copies.Store{Stores: st}
	if err := s.Put(context.Background(), "x/y", strings.NewReader("hello")); err == nil {
		t.Fatal("a put that reached 1 of 2 stores succeeded")
	}
	if _, err := os.Stat(filepath.Join(dirs[0], "x", "y")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("primary keeps the object: %v", err)
	}
	s.Min = 1
	if err := s.Put(context.Background(), "x/y", strings.NewReader("hello")); err != nil {
		t.Fatalf("min 1: %v", err)
	}
}

type badReader struct{ n int }

func (b *badReader) Read(p []byte) (int, error) {
	if b.n > 2 {
		return 0, errors.New("pg_dump died")
	}
	b.n++
	return copy(p, bytes.Repeat([]byte("x"), len(p))), nil
}

func TestCopiesSourceErrorLeavesNothing(t *testing.T) {
	st, dirs := folders(t, 2)
	s := &copies.Store{Stores: st, Min: 1}
	if err := s.Put(context.Background(), "a/b", &badReader{}); err == nil || !strings.Contains(err.Error(), "pg_dump died") {
		t.Fatalf("err: %v", err)
	}
	for _, d := range dirs {
		if objs, _ := (&filestore.Store{Dir: d}).List(context.Background(), ""); len(objs) != 0 {
			t.Errorf("%s: %v", d, objs)
		}
	}
}

func TestCopiesGetFallsBack(t *testing.T) {
	st, _ := folders(t, 3)
	var n notes
	s := &copies.Store{Stores: st, Notef: n.f}
	ctx := context.Background()
	if err := s.Put(ctx, "b1/dump", strings.NewReader("dump")); err != nil {
		t.Fatal(err)
	}
	if string(readAll(t, s, "b1/dump")) != "dump" || len(n.lines) != 0 {
		t.Fatalf("read from the primary: notes %s", &n)
	}
	if err := st[0].Store.Delete(ctx, "b1/dump"); err != nil {
		t.Fatal(err)
	}
	if string(readAll(t, s, "b1/dump")) != "dump" {
		t.Fatal("fallback content")
	}
	want := "backup object b1/dump is missing from store " + st[0].Name + ": read from store " + st[1].Name
	if n.String() != want {
		t.Errorf("note:\n%s\nwant:\n%s", &n, want)
	}
	if _, err := s.Get(ctx, "nope"); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("missing everywhere: %v", err)
	}

	// The primary unreachable: read from the next, said once.
	n.lines = nil
	st[0].Store = &failing{BackupStore: st[0].Store, unreachable: true}
	s = &copies.Store{Stores: st, Notef: n.f}
	if err := st[0].Store.(*failing).BackupStore.Put(ctx, "b2/dump", strings.NewReader("two")); err != nil {
		t.Fatal(err)
	}
	if err := st[1].Store.Put(ctx, "b2/dump", strings.NewReader("two")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if string(readAll(t, s, "b2/dump")) != "two" {
			t.Fatal("content")
		}
	}
	if len(n.lines) != 1 || !strings.Contains(n.lines[0], "store "+st[0].Name+" cannot be read") || !strings.Contains(n.lines[0], "connection refused") {
		t.Errorf("notes: %s", &n)
	}
	// Not in any reachable store, 1 unreachable < min 3: not found.
	if _, err := s.Get(ctx, "b1/verify.json"); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("missing from the reachable ones: %v", err)
	}
	// With min 1 the unreachable store may hold it: not "not found".
	s.Min = 1
	if _, err := s.Get(ctx, "b1/verify.json"); err == nil || errors.Is(err, provider.ErrNotFound) {
		t.Errorf("min 1, primary down: %v", err)
	}
}

func TestCopiesListUnion(t *testing.T) {
	st, _ := folders(t, 3)
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st[0].Store.Put(ctx, "a/1", strings.NewReader("1")))
	must(st[2].Store.Put(ctx, "a/1", strings.NewReader("1")))
	must(st[1].Store.Put(ctx, "b/2", strings.NewReader("22")))
	var n notes
	s := &copies.Store{Stores: st, Notef: n.f}
	ls, err := s.ListCopies(ctx, "")
	must(err)
	if len(ls) != 2 || ls[0].Name != "a/1" || strings.Join(ls[0].Stores, ",") != st[0].Name+","+st[2].Name ||
		ls[1].Name != "b/2" || ls[1].Size != 2 || strings.Join(ls[1].Stores, ",") != st[1].Name {
		t.Fatalf("union: %+v", ls)
	}
	objs, err := s.List(ctx, "b/")
	must(err)
	if len(objs) != 1 || objs[0].Name != "b/2" {
		t.Errorf("prefix: %+v", objs)
	}
	// One store down: the others' union, and a note.
	st[2].Store = &failing{BackupStore: st[2].Store, unreachable: true}
	s = &copies.Store{Stores: st, Notef: n.f}
	ls, err = s.ListCopies(ctx, "")
	must(err)
	if len(ls) != 2 || len(ls[0].Stores) != 1 || !strings.Contains(n.String(), "store "+st[2].Name+" cannot be read") {
		t.Errorf("one down: %+v; notes %s", ls, &n)
	}
	// A store that cannot be reached fails the delete, naming it; the
	// others are deleted all the same.
	if err := s.Delete(ctx, "a/1"); err == nil || !strings.Contains(err.Error(), "store "+st[2].Name) {
		t.Errorf("delete with a store down: %v", err)
	}
	if _, err := st[0].Store.Get(ctx, "a/1"); !errors.Is(err, provider.ErrNotFound) {
		t.Errorf("not deleted from the reachable store: %v", err)
	}
	// Delete removes every copy.
	s = &copies.Store{Stores: st[:2]}
	must(s.Delete(ctx, "a/1"))
	must(s.Delete(ctx, "b/2"))
	if ls, _ := s.ListCopies(ctx, ""); len(ls) != 0 {
		t.Errorf("after delete: %+v", ls)
	}
}

func TestCopiesOneCopyObjects(t *testing.T) {
	st, dirs := folders(t, 2)
	st[1].Name = "s3://down"
	st[1].Store = &failing{BackupStore: st[1].Store}
	var w notes
	s := &copies.Store{Stores: st, Warnf: w.f, OneCopy: func(name string) bool { return strings.HasSuffix(name, "/verify.json") }}
	if err := s.Put(context.Background(), "b1/verify.json", strings.NewReader("{}")); err != nil || len(w.lines) != 0 {
		t.Fatalf("a one-copy object: %v; warnings %s", err, &w)
	}
	if _, err := os.Stat(filepath.Join(dirs[0], "b1", "verify.json")); err != nil {
		t.Error(err)
	}
	if err := s.Put(context.Background(), "b1/dump", strings.NewReader("x")); err == nil {
		t.Error("min_copies (all) does not hold for the other objects")
	}
}

// hung is a store that takes after bytes, then stops: it waits for its
// context (a client that is cancelled), or for nothing at all (a write
// stuck in the kernel), either before the end of the data or after it.
type hung struct {
	provider.BackupStore
	after      int64
	all        bool // read every byte, then never answer
	ignoresCtx bool
	release    chan struct{}
	puts       atomic.Int64
}

func (h *hung) Put(ctx context.Context, name string, r io.Reader) error {
	h.puts.Add(1)
	if h.all {
		_, _ = io.Copy(io.Discard, r)
	} else if _, err := io.CopyN(io.Discard, r, h.after); err != nil {
		return err
	}
	if h.ignoresCtx {
		<-h.release
		return errors.New("released")
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-h.release:
		return errors.New("released")
	}
}

// A store that hangs (mid-stream, after the data, heeding its context or
// not) is given up after Stall: the Put returns with the object in the
// other stores and a warning naming the hung one, not after the hang.
func TestCopiesPutGivesUpAHungStore(t *testing.T) {
	for _, c := range []struct{ all, ignoresCtx bool }{{false, false}, {false, true}, {true, false}, {true, true}} {
		t.Run(fmt.Sprintf("all=%v,ignoresCtx=%v", c.all, c.ignoresCtx), func(t *testing.T) {
			st, dirs := folders(t, 3)
			st[1].Name = "s3://stopped"
			h := &hung{BackupStore: st[1].Store, after: 300 << 10, all: c.all, ignoresCtx: c.ignoresCtx, release: make(chan struct{})}
			defer close(h.release)
			st[1].Store = h
			data := payload(t, 2<<20)
			var w notes
			s := &copies.Store{Stores: st, Min: 2, Warnf: w.f, Stall: 200 * time.Millisecond}
			done := make(chan error, 1)
			go func() { done <- s.Put(context.Background(), "b1/dump.zst", bytes.NewReader(data)) }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("min 2 of 3 with one store hung: %v", err)
				}
			case <-time.After(time.Minute):
				t.Fatal("Put is held by the hung store")
			}
			if !strings.Contains(w.String(), "not written to store s3://stopped") || !strings.Contains(w.String(), "took no data") {
				t.Errorf("warning: %q", w.String())
			}
			for _, d := range []string{dirs[0], dirs[2]} {
				if got, err := os.ReadFile(filepath.Join(d, "b1", "dump.zst")); err != nil || !bytes.Equal(got, data) {
					t.Fatalf("%s: %d bytes, %v", d, len(got), err)
				}
			}
			// with all three needed, the hung store fails the Put, which says
			// so, without waiting on it again
			s.Min = 3
			err := s.Put(context.Background(), "b2/dump.zst", bytes.NewReader(data))
			var u *provider.UnreachableError
			if err == nil || !errors.As(err, &u) || !strings.Contains(err.Error(), "s3://stopped") {
				t.Fatalf("min 3 of 3 with one store hung: %v, want an unreachable store named", err)
			}
			if n := h.puts.Load(); n != 1 {
				t.Errorf("the hung store was asked %d times; after it was given up, not again", n)
			}
		})
	}
}
