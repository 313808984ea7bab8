// Package statefs keeps an environment's lock, state documents and history
// as files in its state folder. Files are 0600 and folders 0700 because the
// lock holder and history name people and commands; every write is atomic
// (temporary file, fsync, rename, fsync of the folder) so a crash leaves
// either the old or the new document, never half of one.
package statefs

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

const (
	dirMode  = 0o700
	fileMode = 0o600
)

// Root is the folder of one environment inside the state folder: several
// environments of a project share state.dir, each gets its own sub-folder.
func Root(stateDir, env string) string {
	if env == "" {
		return stateDir
	}
	return filepath.Join(stateDir, env)
}

func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("create state folder: %w", err)
	}
	return nil
}

// WriteFileAtomic writes data to path through a temporary file in the same
// folder, fsyncs it and renames it over path.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := ensureDir(dir); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := writeSync(tmp, data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(dir)
}

func writeSync(f *os.File, data []byte) error {
	if err := f.Chmod(fileMode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir makes a rename durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// flockFile opens (creating) path and takes an flock on it. With block
// false it returns ok=false when another open file holds the lock.
func flockFile(path string, how int, block bool) (f *os.File, ok bool, err error) {
	if err := ensureDir(filepath.Dir(path)); err != nil {
		return nil, false, err
	}
	f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return nil, false, err
	}
	if !block {
		how |= syscall.LOCK_NB
	}
	for {
		err = syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			break
		}
	}
	if err == syscall.EWOULDBLOCK {
		f.Close()
		return nil, false, nil
	}
	if err != nil {
		f.Close()
		return nil, false, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, true, nil
}

// unlockFile releases an flock and closes the file.
func unlockFile(f *os.File) error {
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return f.Close()
}

const (
	lockEX = syscall.LOCK_EX
	lockSH = syscall.LOCK_SH
)

// TryLock takes an flock on path without waiting: ok is false when another
// process holds it. The local proxy holds one while it runs, which is how a
// command tells whether a proxy will acknowledge its change.
func TryLock(path string, exclusive bool) (release func() error, ok bool, err error) {
	how := lockSH
	if exclusive {
		how = lockEX
	}
	f, ok, err := flockFile(path, how, false)
	if !ok || err != nil {
		return nil, ok, err
	}
	return func() error { return unlockFile(f) }, true, nil
}
