package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// A read lease is a small object <id>/leases/<name>.json that a verify or
// a restore keeps while it reads backup <id>: prune keeps a backup with a
// live lease and says so. Leases expire, so that a killed reader blocks
// nothing for long; a running reader renews its lease.

// LeaseTTL is how long a lease outlives its last renewal.
var LeaseTTL = 2 * time.Minute

// Lease is who reads a backup, until when.
type Lease struct {
	Command string    `json:"command"`
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Expires time.Time `json:"expires"`
}

func (l Lease) String() string {
	return fmt.Sprintf("%s (pid %d on %s)", l.Command, l.PID, l.Host)
}

const leasePrefix = "leases/"

// ErrBackupGone is a backup deleted while it was being read.
var ErrBackupGone = errors.New("the backup was deleted while it was being read (by a prune, or by hand)")

// lease takes a read lease on backup id for command, then checks that the
// backup is still there: a prune that planned before the lease existed
// deletes the manifest first, so a reader either sees the manifest with
// its lease in place, or fails with ErrBackupGone.
func (e *Engine) lease(ctx context.Context, id, command string) (release func(), err error) {
	host, _ := os.Hostname()
	l := Lease{Command: command, Host: host, PID: os.Getpid()}
	name := fmt.Sprintf("%s/%s%s-%d-%d.json", id, leasePrefix, host, l.PID, e.now().UnixNano())
	put := func(ctx context.Context) error {
		l.Expires = e.now().Add(LeaseTTL)
		raw, _ := json.Marshal(l)
		return e.Store.Put(ctx, name, strings.NewReader(string(raw)))
	}
	if err := put(ctx); err != nil {
		return nil, fmt.Errorf("take a read lease on backup %s: %w", id, err)
	}
	stop := e.renew(put)
	release = func() {
		stop()
		_ = e.Store.Delete(context.WithoutCancel(ctx), name)
	}
	if !e.exists(ctx, id) {
		release()
		return nil, fmt.Errorf("backup %s: %w", id, ErrBackupGone)
	}
	return release, nil
}

// renew keeps a lease alive until stop is called.
func (e *Engine) renew(put func(context.Context) error) (stop func()) {
	done := make(chan struct{})
	var once sync.Once
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(LeaseTTL / 4):
				_ = put(context.Background())
			}
		}
	}()
	return func() { once.Do(func() { close(done) }) }
}

// readers returns the live leases on backup id.
func (e *Engine) readers(ctx context.Context, id string) ([]Lease, error) {
	objs, err := e.Store.List(ctx, id+"/"+leasePrefix)
	if err != nil {
		return nil, err
	}
	var out []Lease
	for _, o := range objs {
		l, err := e.readLease(ctx, o.Name)
		if err != nil || !l.Expires.After(e.now()) || l.gone() {
			continue // unreadable, expired, or its process is gone
		}
		out = append(out, l)
	}
	return out, nil
}

func (e *Engine) readLease(ctx context.Context, name string) (Lease, error) {
	var l Lease
	r, err := e.Store.Get(ctx, name)
	if err != nil {
		return l, err
	}
	defer r.Close()
	raw, err := io.ReadAll(io.LimitReader(r, 4096))
	if err != nil {
		return l, err
	}
	return l, json.Unmarshal(raw, &l)
}

// gone reports a lease whose reader ran on this host and no longer runs (a
// killed verify or restore): it need not be waited out.
func (l Lease) gone() bool {
	host, _ := os.Hostname()
	if l.Host != host || l.PID <= 0 || l.PID == os.Getpid() {
		return false
	}
	err := syscall.Kill(l.PID, 0)
	return errors.Is(err, syscall.ESRCH)
}
