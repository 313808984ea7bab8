package s3state

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
)

// Locker is the environment's lock: one object, lock.json, that names its
// holder and carries a random token of the command that wrote it.
//
//   - Acquire creates it with If-None-Match: *. A 412 whose object carries
//     our token is our own create, answered late or retried by the SDK
//     after a lost reply: the lock is ours.
//   - The holder renews it every TTL/3 (at most RenewEvery) with If-Match
//     the ETag of its last write. A failed or 412 renewal is re-read: only an object with another
//     token means the lock is lost.
//   - Expiry is decided by the taker alone: an object it sees unchanged (same
//     ETag) for longer than the lease written in it, by its own monotonic
//     clock, is dead and is taken over with If-Match that ETag. Nobody's wall
//     clock is compared with anybody else's, so skewed clocks neither steal a
//     renewed lock nor keep a dead one.
//   - Release deletes with If-Match the ETag of our last write: a lock that
//     somebody else holds now is left to them.
type Locker struct {
	B   *Bucket
	TTL time.Duration // the lease: how long an unrenewed lock stays
	// Now is the clock. Its wall time is written into the lock for people to
	// read; only its monotonic reading (kept by time.Time.Add) measures how
	// long a lock has been seen unchanged.
	Now            func() time.Time
	Notef          func(format string, a ...any)
	ReleaseTimeout time.Duration // release at exit, whatever the command's context (0: DefaultReleaseTimeout)
}

// DefaultTTL is how long a lock outlives its last renewal.
const DefaultTTL = 2 * time.Minute

// RenewEvery caps the renewal interval: another command looking at a live
// lock sees it change, and says who holds it, within about this long.
const RenewEvery = 5 * time.Second

// DefaultReleaseTimeout bounds the release at the end of a command, also
// after Ctrl-C, when the bucket does not answer.
const DefaultReleaseTimeout = 10 * time.Second

// NewS3Locker returns a locker on b with the default TTL; set Notef for
// the operator's notes.
func NewS3Locker(b *Bucket) *Locker {
	return &Locker{B: b, TTL: DefaultTTL, Now: time.Now}
}

var _ provider.LockInspector = (*Locker)(nil)

const lockKey = "lock.json"

// record is lock.json: the holder, the token of the command holding it and
// the lease it promised to renew within.
type record struct {
	provider.Holder
	Token   string `json:"token,omitempty"`
	LeaseMS int64  `json:"lease_ms,omitempty"`
}

func (r *record) lease(def time.Duration) time.Duration {
	if r.LeaseMS <= 0 {
		return def // written by an older deployctl
	}
	return time.Duration(r.LeaseMS) * time.Millisecond
}

func (l *Locker) note(format string, a ...any) {
	if l.Notef != nil {
		l.Notef(format, a...)
	}
}

func (l *Locker) now() time.Time {
	if l.Now == nil {
		return time.Now()
	}
	return l.Now()
}

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (l *Locker) read(ctx context.Context) (*record, string, error) {
	data, etag, err := l.B.get(ctx, lockKey)
	if err != nil {
		return nil, "", err
	}
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, "", fmt.Errorf("lock object %s%s is not deployctl's: %v; delete it if nobody runs a command", l.B.Prefix, lockKey, err)
	}
	return &r, etag, nil
}

func (l *Locker) write(ctx context.Context, r *record, ifNoneMatch, ifMatch string) (string, error) {
	r.Expires = l.now().Add(l.TTL).UTC() // for people: the holder's own clock
	data, _ := json.Marshal(r)
	return l.B.put(ctx, lockKey, data, ifNoneMatch, ifMatch)
}

// errReleased says the observed lock went away: try to create it again.
var errReleased = errors.New("lock released")

// Acquire takes the lock or returns *provider.LockedError. The lock is
// renewed under ctx (the command's) until the returned release is called.
func (l *Locker) Acquire(ctx context.Context, h provider.Holder) (func() error, error) {
	rec := &record{Holder: h, Token: newToken(), LeaseMS: l.TTL.Milliseconds()}
	for range 10 {
		etag, err := l.write(ctx, rec, "*", "")
		if err == nil {
			return l.keep(ctx, rec, etag), nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		if !errors.Is(err, errPrecondition) {
			return nil, err
		}
		cur, curTag, err := l.read(ctx)
		switch {
		case errors.Is(err, provider.ErrNotFound):
			continue // released meanwhile
		case err != nil:
			return nil, err
		case cur.Token == rec.Token:
			return l.keep(ctx, rec, curTag), nil // our create landed; its reply was lost
		}
		err = l.observe(ctx, cur, curTag)
		if errors.Is(err, errReleased) {
			continue
		}
		if err != nil {
			return nil, err
		}
		etag, err = l.write(ctx, rec, "", curTag)
		if err == nil {
			l.note("took over the lock of %s (pid %d on %s, %q): it was not renewed for %s (its command crashed or lost the bucket)",
				cur.Actor, cur.PID, cur.Host, cur.Command, cur.lease(l.TTL))
			return l.keep(ctx, rec, etag), nil
		}
		if !errors.Is(err, errPrecondition) {
			return nil, err
		}
	}
	return nil, errors.New("the lock object keeps changing under deployctl: other commands are racing for it; run again")
}

// observe watches another command's lock object, which read as cur with
// ETag tag. Its holder renews it at least every third of its lease: a change means it
// is alive (*provider.LockedError); no change for a whole lease by our own
// clock means it is dead (nil: take it over). A first look at a lock waits
// up to one lease.
func (l *Locker) observe(ctx context.Context, cur *record, tag string) error {
	lease := cur.lease(l.TTL)
	first := l.now()
	l.note("the lock is held by %s (pid %d on %s, %q) since %s; checking for up to %s that its command still renews it",
		cur.Actor, cur.PID, cur.Host, cur.Command, cur.Since.UTC().Format(time.RFC3339), lease)
	poll := min(max(lease/8, 10*time.Millisecond), time.Second)
	for {
		left := lease - l.now().Sub(first)
		if left <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(poll, left)):
		}
		next, nextTag, err := l.read(ctx)
		if errors.Is(err, provider.ErrNotFound) {
			return errReleased
		}
		if err != nil {
			return err
		}
		if nextTag != tag {
			return &provider.LockedError{Holder: next.Holder}
		}
	}
}

func (l *Locker) renewEvery() time.Duration { return min(l.TTL/3, RenewEvery) }

// held is a lock this command holds.
type held struct {
	l       *Locker
	rec     *record
	etag    string // of our last write; the renewal goroutine owns it until release
	lost    bool
	failing bool
}

// keep renews the lock under ctx until the returned release is called;
// release deletes the object if it is still ours, and is idempotent.
func (l *Locker) keep(ctx context.Context, rec *record, etag string) func() error {
	h := &held{l: l, rec: rec, etag: etag}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(l.renewEvery())
		defer tick.Stop()
		for {
			select {
			case <-rctx.Done():
				return
			case <-tick.C:
			}
			if !h.renew(rctx) {
				return
			}
		}
	}()
	var once sync.Once
	var rerr error
	return func() error {
		once.Do(func() {
			stop()
			<-done
			rerr = h.release(context.WithoutCancel(ctx))
		})
		return rerr
	}
}

// renew rewrites the lock; false when it is lost or the command ends.
func (h *held) renew(ctx context.Context) bool {
	next, err := h.l.write(ctx, h.rec, "", h.etag)
	if err == nil {
		h.etag, h.failing = next, false
		return true
	}
	if ctx.Err() != nil {
		return false
	}
	if errors.Is(err, errPrecondition) {
		cur, tag, rerr := h.l.read(ctx)
		switch {
		case rerr == nil && cur.Token == h.rec.Token:
			h.etag, h.failing = tag, false // an earlier renewal landed; its reply was lost
			return true
		case rerr == nil:
			h.lost = true
			h.l.note("lost the lock: %s (pid %d on %s, %q) took it over; the running command is no longer protected",
				cur.Actor, cur.PID, cur.Host, cur.Command)
			return false
		case errors.Is(rerr, provider.ErrNotFound):
			h.lost = true
			h.l.note("lost the lock: its object %s%s was deleted; the running command is no longer protected", h.l.B.Prefix, lockKey)
			return false
		}
		err = rerr
	}
	if !h.failing {
		h.l.note("could not renew the lock: %v; trying again every %s (it is taken over after %s without renewal)", err, h.l.renewEvery(), h.l.TTL)
		h.failing = true
	}
	return true
}

// release deletes the lock if it still carries our last write, within
// ReleaseTimeout whatever ctx says.
func (h *held) release(ctx context.Context) error {
	if h.lost {
		return nil // renew said so
	}
	d := h.l.ReleaseTimeout
	if d <= 0 {
		d = DefaultReleaseTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for range 3 {
		err := h.l.B.delete(ctx, lockKey, h.etag)
		if err == nil || errors.Is(err, provider.ErrNotFound) {
			return nil
		}
		if !errors.Is(err, errPrecondition) {
			return fmt.Errorf("%w; the lock frees itself %s after its last renewal", err, h.l.TTL)
		}
		cur, tag, err := h.l.read(ctx)
		if errors.Is(err, provider.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w; the lock frees itself %s after its last renewal", err, h.l.TTL)
		}
		if cur.Token != h.rec.Token {
			h.l.note("left the lock alone: %s (pid %d on %s, %q) holds it now, having taken it over while this command ran",
				cur.Actor, cur.PID, cur.Host, cur.Command)
			return nil
		}
		h.etag = tag // our last renewal landed; its reply was lost
	}
	return errors.New("the lock object keeps changing under deployctl; it frees itself " + h.l.TTL.String() + " after its last renewal")
}

// Holder returns the current holder, or nil when the lock is free. A lock
// left by a crashed command shows until somebody takes it over (one lease
// after they first look at it).
func (l *Locker) Holder(ctx context.Context) (*provider.Holder, error) {
	r, _, err := l.read(ctx)
	if errors.Is(err, provider.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &r.Holder, nil
}
