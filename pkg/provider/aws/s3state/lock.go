package s3state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/deployctl/deployctl/pkg/provider"
)

// Locker is a lock object created with If-None-Match: *. Its holder renews
// it (If-Match its own ETag) every TTL/3; a lock not renewed for TTL (a
// crashed command, a lost laptop) is taken over with If-Match its ETag, so
// exactly one taker wins.
type Locker struct {
	B     *Bucket
	TTL   time.Duration
	Now   func() time.Time
	Notef func(format string, a ...any)
}

// DefaultTTL is how long a lock outlives its last renewal.
const DefaultTTL = 2 * time.Minute

// NewS3Locker returns a locker on b with the default TTL; set Notef for
// the operator's notes.
func NewS3Locker(b *Bucket) *Locker {
	return &Locker{B: b, TTL: DefaultTTL, Now: time.Now}
}

var _ provider.LockInspector = (*Locker)(nil)

func (l *Locker) note(format string, a ...any) {
	if l.Notef != nil {
		l.Notef(format, a...)
	}
}

const lockKey = "lock.json"

func (l *Locker) read(ctx context.Context) (*provider.Holder, string, error) {
	data, etag, err := l.B.get(ctx, lockKey)
	if err != nil {
		return nil, "", err
	}
	var h provider.Holder
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, "", fmt.Errorf("lock object %s%s is not deployctl's: %v; delete it if nobody runs a command", l.B.Prefix, lockKey, err)
	}
	return &h, etag, nil
}

// Acquire takes the lock or returns *provider.LockedError.
func (l *Locker) Acquire(ctx context.Context, h provider.Holder) (func() error, error) {
	for attempt := 0; attempt < 5; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		etag, err := l.write(ctx, h, "*", "")
		if err == nil {
			return l.keep(h, etag), nil
		}
		if !errors.Is(err, errPrecondition) {
			return nil, err
		}
		cur, curTag, err := l.read(ctx)
		if errors.Is(err, provider.ErrNotFound) {
			continue // released meanwhile
		}
		if err != nil {
			return nil, err
		}
		if l.Now().Before(cur.Expires) {
			return nil, &provider.LockedError{Holder: *cur}
		}
		if etag, err = l.write(ctx, h, "", curTag); err == nil {
			l.note("took over the lock of %s (pid %d on %s, %q): it expired at %s without renewal", cur.Actor, cur.PID, cur.Host, cur.Command, cur.Expires.UTC().Format(time.RFC3339))
			return l.keep(h, etag), nil
		}
		if !errors.Is(err, errPrecondition) {
			return nil, err
		}
	}
	return nil, errors.New("the lock object keeps changing under deployctl: another process is racing for it; run again")
}

func (l *Locker) write(ctx context.Context, h provider.Holder, ifNoneMatch, ifMatch string) (string, error) {
	h.Expires = l.Now().Add(l.TTL).UTC()
	data, _ := json.Marshal(h)
	return l.B.put(ctx, lockKey, data, ifNoneMatch, ifMatch)
}

// keep renews the lock until the returned release is called; release
// deletes the object if it is still ours, and is idempotent.
func (l *Locker) keep(h provider.Holder, etag string) func() error {
	var mu sync.Mutex
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(l.TTL / 3):
			}
			mu.Lock()
			next, err := l.write(context.Background(), h, "", etag)
			if err == nil {
				etag = next
			} else if errors.Is(err, errPrecondition) {
				l.note("lost the lock: somebody took it over; the running command is no longer protected")
				mu.Unlock()
				return
			}
			mu.Unlock()
		}
	}()
	var once sync.Once
	var rerr error
	return func() error {
		once.Do(func() {
			close(stop)
			<-done
			mu.Lock()
			defer mu.Unlock()
			rerr = l.release(etag)
		})
		return rerr
	}
}

// release deletes the lock when it still carries our ETag. S3 general
// purpose buckets may not honour If-Match on DELETE, so it reads first: the
// window between read and delete is one round trip, and a takeover needs an
// expired lock, which a renewing holder never has.
func (l *Locker) release(etag string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, cur, err := l.B.get(ctx, lockKey)
	if errors.Is(err, provider.ErrNotFound) || (err == nil && cur != etag) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = l.B.API.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(l.B.Name), Key: aws.String(l.B.Prefix + lockKey)})
	if err != nil {
		return l.B.explain("delete the lock", err)
	}
	return nil
}

// Holder returns the current holder, or nil when the lock is free or expired.
func (l *Locker) Holder(ctx context.Context) (*provider.Holder, error) {
	h, _, err := l.read(ctx)
	if errors.Is(err, provider.ErrNotFound) {
		return nil, nil
	}
	if err != nil || !l.Now().Before(h.Expires) {
		return nil, err
	}
	return h, nil
}
