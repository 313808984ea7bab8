package wal_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/wal"
)

// countingStore counts the calls that reach the store.
type countingStore struct {
	provider.BackupStore
	calls atomic.Int64
}

func (c *countingStore) List(ctx context.Context, prefix string) ([]provider.Object, error) {
	c.calls.Add(1)
	return c.BackupStore.List(ctx, prefix)
}
func (c *countingStore) Put(ctx context.Context, name string, r io.Reader) error {
	c.calls.Add(1)
	return c.BackupStore.Put(ctx, name, r)
}
func (c *countingStore) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	c.calls.Add(1)
	return c.BackupStore.Get(ctx, name)
}

// pgWAL is a pg_wal folder with n segments PostgreSQL marked ready.
func pgWAL(t *testing.T, n int) (dir string, paths []string, data [][]byte) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "pg_wal")
	must(t, os.MkdirAll(filepath.Join(dir, "archive_status"), 0o700))
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("0000000100000000000000%02X", i)
		p, d := segment(t, dir, name, 1<<20)
		must(t, os.WriteFile(filepath.Join(dir, "archive_status", name+".ready"), nil, 0o600))
		paths, data = append(paths, p), append(data, d)
	}
	return dir, paths, data
}

func fetchEqual(t *testing.T, a *wal.Archive, name string, want []byte) {
	t.Helper()
	dest := filepath.Join(t.TempDir(), "RECOVERYXLOG")
	must(t, a.Fetch(t.Context(), name, dest))
	got, err := os.ReadFile(dest)
	must(t, err)
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: fetched %d bytes, not what was pushed", name, len(got))
	}
}

// One push archives the segment asked for and the ready ones after it; the
// pushes PostgreSQL runs for those next find their markers and touch
// neither the store nor the file; every segment fetches back whole.
func TestPushReadyArchivesAheadAndMarks(t *testing.T) {
	a, st := newArchive(t)
	cs := &countingStore{BackupStore: st}
	a.Store = cs
	_, paths, data := pgWAL(t, 6)
	o := wal.Ahead{Max: 3, Workers: 2, Spool: filepath.Join(t.TempDir(), "spool")}
	must(t, a.PushReady(t.Context(), paths[0], o))
	segs, err := a.List(t.Context())
	must(t, err)
	if len(segs) != 4 {
		t.Fatalf("after one push with push_ahead 3: %d segments archived, want 4: %v", len(segs), segs)
	}
	for i := 1; i <= 3; i++ {
		before := cs.calls.Load()
		must(t, a.PushReady(t.Context(), paths[i], o))
		if n := cs.calls.Load() - before; n != 0 {
			t.Errorf("push of %s, archived ahead: %d store calls, want none (its marker)", filepath.Base(paths[i]), n)
		}
	}
	// the marker is used once: a second push of the same file checks the store
	before := cs.calls.Load()
	must(t, a.PushReady(t.Context(), paths[1], o))
	if cs.calls.Load() == before {
		t.Errorf("a marker was trusted twice")
	}
	for _, p := range paths[4:] {
		must(t, a.PushReady(t.Context(), p, o))
	}
	for i, p := range paths {
		fetchEqual(t, a, filepath.Base(p), data[i])
	}
}

// A segment rewritten after it was archived ahead (new content, new
// modification time) does not match its marker: the push reads it, finds
// other content archived under its name, and fails without overwriting.
func TestPushReadyMarkerOfChangedFileIsNotTrusted(t *testing.T) {
	a, _ := newArchive(t)
	_, paths, data := pgWAL(t, 2)
	o := wal.Ahead{Max: 1, Workers: 2, Spool: filepath.Join(t.TempDir(), "spool")}
	must(t, a.PushReady(t.Context(), paths[0], o))
	other := bytes.Repeat([]byte("other wal "), 1<<20/10)
	must(t, os.WriteFile(paths[1], other, 0o600))
	err := a.PushReady(t.Context(), paths[1], o)
	var mm *wal.MismatchError
	if !errors.As(err, &mm) {
		t.Fatalf("push of a segment changed after it was archived ahead: %v, want a *MismatchError", err)
	}
	fetchEqual(t, a, filepath.Base(paths[1]), data[1])
}

// A spool folder others can write to is not used: a marker forged there
// would make a push succeed for a segment that was never archived.
func TestPushReadyIgnoresASpoolOthersCanWrite(t *testing.T) {
	a, _ := newArchive(t)
	_, paths, data := pgWAL(t, 2)
	spool := filepath.Join(t.TempDir(), "spool")
	o := wal.Ahead{Max: 1, Workers: 1, Spool: spool}
	// learn the marker's folder and format from a real push ahead
	must(t, a.PushReady(t.Context(), paths[0], o))
	var marker string
	must(t, filepath.Walk(spool, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			marker = p
		}
		return err
	}))
	if marker == "" {
		t.Fatal("no marker left for the segment archived ahead")
	}
	// a third segment, never archived, and a marker forged for it, exact
	third := filepath.Join(filepath.Dir(paths[0]), "000000010000000000000003")
	thirdData := bytes.Repeat([]byte("third wal "), 1<<20/10)
	must(t, os.WriteFile(third, thirdData, 0o600))
	info, err := os.Stat(third)
	must(t, err)
	forged := fmt.Sprintf("000000010000000000000003 %d %d %d %s\n", info.Size(), info.ModTime().UnixNano(), info.Sys().(*syscall.Stat_t).Ino, strings.Repeat("ab", 32))
	must(t, os.Chmod(spool, 0o777))
	must(t, os.Chmod(filepath.Dir(marker), 0o777))
	must(t, os.WriteFile(filepath.Join(filepath.Dir(marker), "000000010000000000000003.ok"), []byte(forged), 0o666))
	must(t, a.PushReady(t.Context(), third, o))
	fetchEqual(t, a, "000000010000000000000003", thirdData)
	fetchEqual(t, a, filepath.Base(paths[1]), data[1])
}

// A file pushed ahead that fails does not fail the push PostgreSQL asked
// for, and leaves no marker: it is pushed when PostgreSQL asks for it.
func TestPushReadyAheadFailureIsNotTheCallersAndLeavesNoMarker(t *testing.T) {
	a, st := newArchive(t)
	cs := &countingStore{BackupStore: st}
	a.Store = cs
	_, paths, data := pgWAL(t, 3)
	must(t, os.Remove(paths[1]))
	must(t, os.Mkdir(paths[1], 0o700)) // unreadable as a file
	o := wal.Ahead{Max: 2, Workers: 2, Spool: filepath.Join(t.TempDir(), "spool")}
	must(t, a.PushReady(t.Context(), paths[0], o))
	must(t, os.Remove(paths[1]))
	must(t, os.WriteFile(paths[1], data[1], 0o600))
	before := cs.calls.Load()
	must(t, a.PushReady(t.Context(), paths[1], o))
	if cs.calls.Load() == before {
		t.Fatal("the segment whose push ahead failed was taken as archived")
	}
	for i, p := range paths {
		fetchEqual(t, a, filepath.Base(p), data[i])
	}
}

// gatedStore holds the Put of one object until the test opens the gate,
// and counts the Puts of it.
type gatedStore struct {
	provider.BackupStore
	name    string // a substring of the held object's name
	started chan struct{}
	gate    chan struct{}
	puts    atomic.Int64
}

func (g *gatedStore) Put(ctx context.Context, name string, r io.Reader) error {
	if strings.Contains(name, g.name) {
		if g.puts.Add(1) == 1 {
			close(g.started)
		}
		<-g.gate
	}
	return g.BackupStore.Put(ctx, name, r)
}

// While the process in the background has a file in hand, the push
// PostgreSQL runs for that file waits for its marker rather than archiving
// it a second time; it returns once the background has archived it.
func TestPushReadyWaitsForTheBackgroundsFile(t *testing.T) {
	a, st := newArchive(t)
	g := &gatedStore{BackupStore: st, name: "000000010000000000000002.", started: make(chan struct{}), gate: make(chan struct{})}
	a.Store = g
	_, paths, data := pgWAL(t, 3)
	bg := make(chan error, 1)
	o := wal.Ahead{Max: 4, Workers: 1, Spool: filepath.Join(t.TempDir(), "spool")}
	o.Background = func(p string, held *os.File) error {
		// as a process inherits it: another descriptor of the same lock
		fd, err := syscall.Dup(int(held.Fd()))
		if err != nil {
			return err
		}
		child := o
		child.Held = os.NewFile(uintptr(fd), "push.lock")
		go func() { bg <- a.PushAheadOf(context.Background(), p, child) }()
		return nil
	}
	must(t, a.PushReady(t.Context(), paths[0], o))
	<-g.started // the background is writing segment 2
	second := make(chan error, 1)
	go func() { second <- a.PushReady(context.Background(), paths[1], o) }()
	select {
	case err := <-second:
		t.Fatalf("the push of segment 2 returned (%v) while the background still had it in hand", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(g.gate)
	must(t, <-second)
	must(t, <-bg)
	if n := g.puts.Load(); n != 1 {
		t.Errorf("segment 2 was written %d times, want once (by the background)", n)
	}
	must(t, a.PushReady(t.Context(), paths[2], o))
	for i, p := range paths {
		fetchEqual(t, a, filepath.Base(p), data[i])
	}
}
