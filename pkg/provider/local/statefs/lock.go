package statefs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
)

// Locker is the environment lock: an flock on <dir>/lock, which the kernel
// releases when its process dies, plus <dir>/lock.holder (who, pid, host,
// command, since, reason) for the message the next operator reads. A holder
// file left behind with a free flock means its process died: the lock is
// taken over and Notef says so.
type Locker struct {
	Dir string
	// Notef reports a take-over; nil discards it.
	Notef func(format string, a ...any)
}

var (
	_ provider.Locker        = (*Locker)(nil)
	_ provider.LockInspector = (*Locker)(nil)
)

func (l *Locker) lockPath() string   { return filepath.Join(l.Dir, "lock") }
func (l *Locker) holderPath() string { return filepath.Join(l.Dir, "lock.holder") }

// Acquire takes the lock for h or returns *provider.LockedError naming the
// current holder.
func (l *Locker) Acquire(ctx context.Context, h provider.Holder) (func() error, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, ok, err := flockFile(l.lockPath(), lockEX, false)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &provider.LockedError{Holder: l.currentHolder()}
	}
	if prev, err := l.readHolder(); err == nil && l.Notef != nil {
		l.Notef("took over the lock left by %s (pid %d on %s, running %q since %s): that process is gone; check what it was doing (deployctl rollout status)",
			prev.Actor, prev.PID, prev.Host, prev.Command, prev.Since.UTC().Format(time.RFC3339))
	}
	data, _ := json.MarshalIndent(h, "", "  ")
	if err := WriteFileAtomic(l.holderPath(), append(data, '\n')); err != nil {
		unlockFile(f)
		return nil, err
	}
	var once sync.Once
	var relErr error
	return func() error {
		once.Do(func() {
			if err := os.Remove(l.holderPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
				relErr = fmt.Errorf("release lock: %w", err)
			}
			unlockFile(f)
		})
		return relErr
	}, nil
}

// currentHolder reads the holder file, waiting briefly for a holder that
// has just taken the flock and is still writing it.
func (l *Locker) currentHolder() provider.Holder {
	for i := 0; i < 20; i++ {
		if h, err := l.readHolder(); err == nil {
			return h
		}
		time.Sleep(10 * time.Millisecond)
	}
	return provider.Holder{Actor: "unknown", Command: "unknown"}
}

func (l *Locker) readHolder() (provider.Holder, error) {
	var h provider.Holder
	data, err := os.ReadFile(l.holderPath())
	if err != nil {
		return h, err
	}
	if err := json.Unmarshal(data, &h); err != nil {
		return h, fmt.Errorf("malformed %s: %w", l.holderPath(), err)
	}
	return h, nil
}

// Holder returns who holds the lock now, or nil when it is free.
func (l *Locker) Holder(ctx context.Context) (*provider.Holder, error) {
	if _, err := os.Stat(l.lockPath()); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	f, ok, err := flockFile(l.lockPath(), lockSH, false)
	if err != nil {
		return nil, err
	}
	if ok {
		unlockFile(f)
		return nil, nil
	}
	h := l.currentHolder()
	return &h, nil
}
