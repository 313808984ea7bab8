package wal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Ahead is how a push archives the files PostgreSQL has ready after the
// one it asked for, as pgBackRest's asynchronous archive-push does: the
// archiver runs one archive_command at a time, so a backlog drains only as
// fast as one push follows another, unless a push takes several at once.
type Ahead struct {
	// Max is how many more ready files a push archives beside %p (0: none).
	Max int
	// Workers is how many files are compressed and written at once.
	Workers int
	// Spool is a folder of this user's where a push leaves, for each file
	// it archived ahead, a marker (name, size, modification time, inode,
	// sha256); the push PostgreSQL runs for that file later finds it and
	// returns at once. Empty: no markers; that push reads the file again and
	// finds it archived.
	Spool string
	// Background, when set, starts a process of its own that runs
	// PushAheadOf(path) and returns without waiting for it: the push of
	// path returns as soon as path is archived, while that process archives
	// the files after it (pgBackRest's archive-async). held is the
	// spool's lock, taken and the first files claimed by the push: the
	// process inherits it (Held), so that no push finds the files neither
	// claimed nor marked in between. Nil: the push archives them itself
	// before it returns.
	Background func(path string, held *os.File) error
	// Held is the spool's lock inherited from the push that started this
	// process (PushAheadOf); nil: PushAheadOf takes it.
	Held *os.File
}

// PushReady archives the file at path, as Push does, and up to o.Max files
// that PostgreSQL marked ready (pg_wal/archive_status/*.ready) after it,
// o.Workers at a time. Only the error of path is returned: a file pushed
// ahead that failed is pushed again when PostgreSQL asks for it.
func (a *Archive) PushReady(ctx context.Context, path string, o Ahead) error {
	f, err := ParseName(filepath.Base(path))
	if err != nil {
		return err
	}
	spool := o.spool(a.storeName())
	if spool != "" && spool.take(f.Name, path) {
		return nil
	}
	if spool != "" && o.Background != nil {
		// the process in the background has it in hand: wait for its marker
		if spool.waitFor(ctx, f.Name, path) {
			return nil
		}
	}
	if err := a.reachable(ctx); err != nil {
		return err
	}
	if spool != "" && o.Background != nil {
		w := newPusher()
		_, err := a.pushFile(ctx, w, f, path)
		w.release()
		if err == nil {
			a.startBackground(path, f.Name, o, spool)
		}
		return err
	}
	batch := []string{path}
	if o.Max > 0 {
		batch = append(batch, readyAfter(filepath.Dir(path), f.Name, o.Max, spool)...)
	}
	errs := a.pushAll(ctx, batch, o.Workers, spool, path)
	if spool != "" {
		spool.sweep(time.Now())
	}
	return errs[path]
}

// startBackground hands the files ready after name to a process in the
// background: the lock taken and the first ones claimed here, before the
// push returns and PostgreSQL asks for the next. Not started (another one
// runs, nothing is ready, it cannot start): the next pushes archive their
// own files.
func (a *Archive) startBackground(path, name string, o Ahead, spool spoolDir) {
	batch := readyAfter(filepath.Dir(path), name, max(o.Max, 1), spool)
	if len(batch) == 0 {
		return
	}
	held, ok := spool.lockHeld()
	if !ok {
		return // one runs already
	}
	spool.claim(batch)
	if err := o.Background(path, held); err != nil {
		_ = os.Remove(spool.claims())
	}
	held.Close() // the process keeps its own copy of the lock, or it is free
}

// PushAheadOf is the process in the background of PushReady: it archives
// the files PostgreSQL has ready after path, o.Max at a time, o.Workers at
// once, leaving a marker for each, until none is left. Only one runs per
// spool (a lock the kernel releases when it dies): another returns at once.
func (a *Archive) PushAheadOf(ctx context.Context, path string, o Ahead) error {
	f, err := ParseName(filepath.Base(path))
	if err != nil {
		return err
	}
	spool := o.spool(a.storeName())
	if spool == "" {
		return fmt.Errorf("no private spool folder (backup.wal.spool %s) for the markers", o.Spool)
	}
	var unlock func()
	if o.Held != nil {
		// the lock of the push that started this process: the same file
		if !spool.isLock(o.Held) {
			return fmt.Errorf("the inherited lock is not %s", spool.lockFile())
		}
		unlock = func() { o.Held.Close() }
	} else {
		// the pushes probe the lock for an instant
		var ok bool
		unlock, ok = spool.lock()
		for try := 0; !ok && try < 10; try++ {
			time.Sleep(2 * time.Millisecond)
			unlock, ok = spool.lock()
		}
		if !ok {
			return nil // another one runs
		}
	}
	defer unlock()
	defer os.Remove(spool.claims())
	if err := a.reachable(ctx); err != nil {
		return err
	}
	last := f.Name
	for ctx.Err() == nil {
		batch := readyAfter(filepath.Dir(path), last, max(o.Max, 1), spool)
		if len(batch) == 0 {
			break
		}
		spool.claim(batch)
		errs := a.pushAll(ctx, batch, o.Workers, spool, "")
		if len(errs) > 0 {
			break // PostgreSQL's own pushes take it from here, and say why
		}
		last = filepath.Base(batch[len(batch)-1])
	}
	spool.sweep(time.Now())
	return nil
}

// pushAll archives the files at paths, workers at a time; every file but
// own (the one PostgreSQL asked for, if any) gets a marker once archived.
// It returns the errors by path.
func (a *Archive) pushAll(ctx context.Context, paths []string, workers int, spool spoolDir, own string) map[string]error {
	jobs := make(chan string)
	var mu sync.Mutex
	errs := map[string]error{}
	var wg sync.WaitGroup
	for range min(max(workers, 1), len(paths)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newPusher()
			defer w.release()
			for p := range jobs {
				g, err := ParseName(filepath.Base(p))
				var sum string
				if err == nil {
					sum, err = a.pushFile(ctx, w, g, p)
				}
				if err != nil {
					mu.Lock()
					errs[p] = err
					mu.Unlock()
				} else if p != own && spool != "" && stillReady(p) {
					spool.leave(g.Name, p, sum)
				}
			}
		}()
	}
	for _, p := range paths {
		jobs <- p
	}
	close(jobs)
	wg.Wait()
	return errs
}

// stillReady reports whether PostgreSQL has yet to archive the file at
// path (its own push may have archived it meanwhile: no marker then).
func stillReady(path string) bool {
	_, err := os.Stat(filepath.Join(filepath.Dir(path), "archive_status", filepath.Base(path)+".ready"))
	return err == nil
}

// readyAfter lists the ready files of the pg_wal folder dir whose names
// sort after name (the order in which the archiver asks for them), at most
// n, without those marked in the spool already.
func readyAfter(dir, name string, n int, sp spoolDir) []string {
	ents, err := os.ReadDir(filepath.Join(dir, "archive_status"))
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range ents {
		r, ok := strings.CutSuffix(e.Name(), ".ready")
		if !ok || r <= name {
			continue
		}
		if _, err := ParseName(r); err == nil {
			names = append(names, r)
		}
	}
	sort.Strings(names)
	var out []string
	for _, r := range names {
		if len(out) == n {
			break
		}
		p := filepath.Join(dir, r)
		if sp != "" && sp.marked(r, p) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// spoolDir is the folder of markers of one archive.
type spoolDir string

// spool is the markers' folder of the archive named store, created private
// to this user; "" when there is none or it is not private (a marker makes
// a push succeed without reading: nobody else may write one).
func (o Ahead) spool(store string) spoolDir {
	if o.Spool == "" || o.Max == 0 {
		return ""
	}
	sum := sha256.Sum256([]byte(store))
	dir := filepath.Join(o.Spool, hex.EncodeToString(sum[:6]))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return ""
	}
	for _, d := range []string{o.Spool, dir} {
		st, err := os.Stat(d)
		if err != nil || !private(st) {
			return ""
		}
	}
	return spoolDir(dir)
}

func private(st os.FileInfo) bool {
	sys, ok := st.Sys().(*syscall.Stat_t)
	return ok && st.IsDir() && int(sys.Uid) == os.Getuid() && st.Mode().Perm()&0o022 == 0
}

// stamp identifies the content of the file at path without reading it:
// PostgreSQL never rewrites a file it marked ready, and recycles a segment
// under another name (a new inode entry, a new modification time).
func stamp(name, path string) (string, bool) {
	st, err := os.Stat(path)
	if err != nil {
		return "", false
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return "", false
	}
	return fmt.Sprintf("%s %d %d %d", name, st.Size(), st.ModTime().UnixNano(), sys.Ino), true
}

func (d spoolDir) marker(name string) string { return filepath.Join(string(d), name+".ok") }

// leave records that the file name at path is archived with sum.
func (d spoolDir) leave(name, path, sum string) {
	s, ok := stamp(name, path)
	if !ok {
		return
	}
	tmp := d.marker(name) + ".tmp"
	if os.WriteFile(tmp, []byte(s+" "+sum+"\n"), 0o600) == nil {
		_ = os.Rename(tmp, d.marker(name))
	}
}

// marked reports whether the file name at path has a marker that matches.
func (d spoolDir) marked(name, path string) bool {
	data, err := os.ReadFile(d.marker(name))
	if err != nil {
		return false
	}
	s, ok := stamp(name, path)
	fields := strings.Fields(string(data))
	return ok && len(fields) == 5 && strings.Join(fields[:4], " ") == s
}

// take consumes the marker of name: true when the file was archived ahead.
func (d spoolDir) take(name, path string) bool {
	if !d.marked(name, path) {
		return false
	}
	_ = os.Remove(d.marker(name))
	return true
}

func (d spoolDir) lockFile() string { return filepath.Join(string(d), "push.lock") }
func (d spoolDir) claims() string   { return filepath.Join(string(d), "claims") }

// lock takes the spool's lock without waiting; false: another process
// holds it.
func (d spoolDir) lock() (unlock func(), ok bool) {
	f, ok := d.lockHeld()
	if !ok {
		return nil, false
	}
	return func() { f.Close() }, true
}

// lockHeld is lock's file itself, for a process to inherit.
func (d spoolDir) lockHeld() (*os.File, bool) {
	f, err := os.OpenFile(d.lockFile(), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, false
	}
	return f, true
}

// isLock reports whether f is the spool's lock file.
func (d spoolDir) isLock(f *os.File) bool {
	a, err1 := f.Stat()
	b, err2 := os.Stat(d.lockFile())
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// busy reports whether a process in the background holds the lock.
func (d spoolDir) busy() bool {
	unlock, ok := d.lock()
	if ok {
		unlock()
	}
	return !ok
}

// claim says which files the process in the background is archiving.
func (d spoolDir) claim(paths []string) {
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = filepath.Base(p)
	}
	tmp := d.claims() + ".tmp"
	if os.WriteFile(tmp, []byte(strings.Join(names, "\n")+"\n"), 0o600) == nil {
		_ = os.Rename(tmp, d.claims())
	}
}

func (d spoolDir) claimed(name string) bool {
	data, err := os.ReadFile(d.claims())
	return err == nil && slices.Contains(strings.Fields(string(data)), name)
}

// waitFor waits, while the process in the background holds the lock and
// has name in hand, for its marker, and consumes it; false when that
// process is not archiving name (or ended without it).
func (d spoolDir) waitFor(ctx context.Context, name, path string) bool {
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline) && ctx.Err() == nil; {
		if d.take(name, path) {
			return true
		}
		if !d.claimed(name) || !d.busy() {
			return d.take(name, path)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return false
}

// sweep removes markers older than an hour: of files PostgreSQL never asked
// for again (a crash, a promotion), or left by a push that was killed.
func (d spoolDir) sweep(now time.Time) {
	ents, err := os.ReadDir(string(d))
	if err != nil {
		return
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".ok") {
			continue
		}
		if info, err := e.Info(); err == nil && now.Sub(info.ModTime()) > time.Hour {
			_ = os.Remove(filepath.Join(string(d), e.Name()))
		}
	}
}
