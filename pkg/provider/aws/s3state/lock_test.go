package s3state_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/deployctl/deployctl/internal/testkit"
	"github.com/deployctl/deployctl/internal/testkit/faultproxy"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/aws/s3state"
	"github.com/deployctl/deployctl/pkg/provider/aws/s3store/s3test"
)

const lockObject = "deployctl/production/lock.json"

// fixture is a versitygw bucket reached through a fault proxy, and a raw
// client that reaches it directly (another operator, a crashed command).
type fixture struct {
	b      *s3state.Bucket
	p      *faultproxy.Proxy
	raw    *s3.Client
	bucket string
}

func setup(t *testing.T) fixture {
	t.Helper()
	name := gw.NewBucket(t)
	p := faultproxy.Start(t, gw.URL, nil, false)
	var s s3state.Settings
	s.Region = s3test.Region
	s.State.Bucket, s.State.Prefix, s.State.PathStyle = name, "deployctl", true
	b, err := s3state.NewBucket(t.Context(), provider.Env{Name: "production"}, s, s3test.Options(p.URL()))
	if err != nil {
		t.Fatal(err)
	}
	return fixture{b: b, p: p, bucket: name, raw: s3.New(s3.Options{Region: s3test.Region}, s3test.Options(gw.URL))}
}

// notes collects a locker's notes (its renewal writes them from another
// goroutine).
type notes struct {
	mu  sync.Mutex
	all []string
}

func (n *notes) add(format string, a ...any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.all = append(n.all, fmt.Sprintf(format, a...))
}

func (n *notes) String() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return strings.Join(n.all, "\n")
}

func newLocker(b *s3state.Bucket, ttl time.Duration, skew time.Duration, n *notes) *s3state.Locker {
	l := s3state.NewS3Locker(b)
	l.TTL = ttl
	if skew != 0 {
		l.Now = func() time.Time { return time.Now().Add(skew) }
	}
	if n != nil {
		l.Notef = n.add
	}
	return l
}

var (
	ann = provider.Holder{Actor: "ann", Host: "a", PID: 1, Command: "rollout green", Since: time.Now()}
	bob = provider.Holder{Actor: "bob", Host: "b", PID: 2, Command: "maintenance on", Since: time.Now()}
)

var lockPut = faultproxy.All(faultproxy.Method("PUT"), faultproxy.PathContains("/lock.json"))

func (f fixture) holder(t *testing.T) *provider.Holder {
	t.Helper()
	h, err := newLocker(f.b, time.Minute, 0, nil).Holder(t.Context())
	if err != nil {
		t.Fatalf("Holder: %v", err)
	}
	return h
}

// writeLock leaves a lock object behind as a crashed command whose clock is
// off by skew would have: it expires ttl after "now" by that clock.
func (f fixture) writeLock(t *testing.T, h provider.Holder, ttl, skew time.Duration) {
	t.Helper()
	h.Expires = time.Now().Add(skew + ttl).UTC()
	rec := map[string]any{"actor": h.Actor, "host": h.Host, "pid": h.PID, "command": h.Command,
		"since": h.Since, "expires": h.Expires, "token": "crashed-" + h.Actor, "lease_ms": ttl.Milliseconds()}
	data, _ := json.Marshal(rec)
	if _, err := f.raw.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(f.bucket), Key: aws.String(lockObject), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
}

// The reply to the create is lost: the SDK retries, gets 412 for its own
// record and must see that the lock is ours.
func TestLostLockReplyIsOurs(t *testing.T) {
	f := setup(t)
	drop := f.p.On(lockPut, faultproxy.DropReply, 1)
	rel, err := newLocker(f.b, time.Minute, 0, nil).Acquire(t.Context(), ann)
	if err != nil {
		t.Fatalf("Acquire after a lost reply: %v; the lock object is ann's own", err)
	}
	if drop.Seen() < 1 {
		t.Fatal("the create never went through the proxy")
	}
	if h := f.holder(t); h == nil || h.Actor != "ann" {
		t.Fatalf("holder %+v", h)
	}
	if err := rel(); err != nil {
		t.Fatal(err)
	}
	if h := f.holder(t); h != nil {
		t.Fatalf("after release the lock is still held by %+v", h)
	}
}

// The reply to a renewal is lost: the retry's 412 is our own record, the
// lock is not lost, and release still deletes it.
func TestLostRenewalReplyKeepsTheLock(t *testing.T) {
	f := setup(t)
	var n notes
	rel, err := newLocker(f.b, 600*time.Millisecond, 0, &n).Acquire(t.Context(), ann)
	if err != nil {
		t.Fatal(err)
	}
	drop := f.p.On(lockPut, faultproxy.DropReply, 1)
	// the dropped renewal, its retry, and one renewal after them
	testkit.WaitFor(t, "renewals after the lost reply", 10*time.Second, func() bool { return drop.Seen() >= 3 })
	if strings.Contains(n.String(), "lost") {
		t.Fatalf("a lost reply was taken for a lost lock: %s", n.String())
	}
	if err := rel(); err != nil {
		t.Fatal(err)
	}
	if h := f.holder(t); h != nil {
		t.Fatalf("after release the lock is still held by %+v (notes: %s)", h, n.String())
	}
}

// A renewed lock is never taken, whichever way the holder's clock is off;
// a dead one is taken after one lease, whichever way it was off.
func TestClockSkew(t *testing.T) {
	const ttl = 600 * time.Millisecond
	for _, skew := range []time.Duration{5 * time.Minute, -5 * time.Minute} {
		t.Run(fmt.Sprintf("live/holder%+v", skew), func(t *testing.T) {
			f := setup(t)
			rel, err := newLocker(f.b, ttl, skew, nil).Acquire(t.Context(), ann)
			if err != nil {
				t.Fatal(err)
			}
			defer rel()
			for range 3 {
				_, err := newLocker(f.b, ttl, 0, nil).Acquire(t.Context(), bob)
				var le *provider.LockedError
				if !errors.As(err, &le) || le.Holder.Actor != "ann" {
					t.Fatalf("Acquire of a renewed lock whose holder's clock is off by %v: %v", skew, err)
				}
			}
		})
		t.Run(fmt.Sprintf("dead/holder%+v", skew), func(t *testing.T) {
			f := setup(t)
			f.writeLock(t, ann, ttl, skew)
			var n notes
			rel, err := newLocker(f.b, ttl, 0, &n).Acquire(t.Context(), bob)
			if err != nil {
				t.Fatalf("Acquire of a lock left by a crash (clock off by %v): %v", skew, err)
			}
			defer rel()
			if h := f.holder(t); h == nil || h.Actor != "bob" {
				t.Fatalf("holder after takeover %+v", h)
			}
			if !strings.Contains(n.String(), "ann") {
				t.Fatalf("the taker did not say whose lock it waited for and took: %q", n.String())
			}
		})
	}
}

// Release deletes only the record it wrote: bob's record, written between
// ann's last look and her delete, stays.
func TestReleaseDeletesOnlyOurs(t *testing.T) {
	f := setup(t)
	var n notes
	rel, err := newLocker(f.b, time.Minute, 0, &n).Acquire(t.Context(), ann)
	if err != nil {
		t.Fatal(err)
	}
	del := f.p.Delay(faultproxy.All(faultproxy.Method("DELETE"), faultproxy.PathContains("/lock.json")), 2*time.Second, 1)
	done := make(chan error, 1)
	go func() { done <- rel() }()
	testkit.WaitFor(t, "ann's delete", 10*time.Second, func() bool { return del.Seen() == 1 })
	f.writeLock(t, bob, time.Minute, 0) // bob took it over meanwhile
	if err := <-done; err != nil {
		t.Fatalf("release: %v", err)
	}
	if h := f.holder(t); h == nil || h.Actor != "bob" {
		t.Fatalf("ann's release deleted bob's lock: holder now %+v", h)
	}
	if !strings.Contains(n.String(), "bob") {
		t.Fatalf("release did not say that bob holds the lock now: %q", n.String())
	}
}

// within runs fn and fails the test if it has not returned after limit: a
// hang detector far above the deadlines under test, not a timing check.
func within[T any](t *testing.T, limit time.Duration, what string, fn func() T) T {
	t.Helper()
	c := make(chan T, 1)
	go func() { c <- fn() }()
	select {
	case v := <-c:
		return v
	case <-time.After(limit):
		t.Fatalf("%s still hangs after %s", what, limit)
	}
	var zero T
	return zero
}

// A bucket that never answers fails Acquire through the per-call deadline,
// as an unreachable dependency (exit 4).
func TestBlackHoledAcquireFailsWithinTheDeadline(t *testing.T) {
	f := setup(t)
	f.b.Timeout = 300 * time.Millisecond
	f.p.On(lockPut, faultproxy.BlackHole, 0)
	err := within(t, 30*time.Second, "Acquire on a black-holed bucket", func() error {
		_, err := newLocker(f.b, time.Minute, 0, nil).Acquire(t.Context(), ann)
		return err
	})
	var unreach *provider.UnreachableError
	if !errors.As(err, &unreach) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer within 300ms") {
		t.Fatalf("Acquire on a black-holed bucket: %v; want an unreachable bucket that did not answer within 300ms", err)
	}
}

// A renewal stuck in a black hole does not hang the release at exit: the
// renewal runs under the command's context with a per-call deadline, and
// the release has its own short deadline.
func TestBlackHoledRenewalDoesNotHangRelease(t *testing.T) {
	f := setup(t)
	f.b.Timeout = time.Hour // only the release's own deadline can end it
	l := newLocker(f.b, 300*time.Millisecond, 0, nil)
	l.ReleaseTimeout = 500 * time.Millisecond
	rel, err := l.Acquire(t.Context(), ann)
	if err != nil {
		t.Fatal(err)
	}
	hole := f.p.On(faultproxy.PathContains("/lock.json"), faultproxy.BlackHole, 0)
	testkit.WaitFor(t, "a renewal in the black hole", 10*time.Second, func() bool { return hole.Seen() >= 1 })
	err = within(t, 30*time.Second, "release with a renewal in a black hole", rel)
	if err == nil || !strings.Contains(err.Error(), "frees itself") {
		t.Fatalf("release on a black-holed bucket: %v; want an error saying the lock frees itself", err)
	}
}

// Ctrl-C: cancelling the command's context ends Acquire at once with
// context.Canceled (exit 130), long before any deadline, and stops renewal.
func TestCancelEndsBlackHoledCalls(t *testing.T) {
	f := setup(t)
	f.b.Timeout = time.Hour
	hole := f.p.On(lockPut, faultproxy.BlackHole, 0)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		testkit.WaitFor(t, "the create in the black hole", 10*time.Second, func() bool { return hole.Seen() >= 1 })
		cancel()
	}()
	err := within(t, 30*time.Second, "Acquire after cancel", func() error {
		_, err := newLocker(f.b, time.Minute, 0, nil).Acquire(ctx, ann)
		return err
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire cancelled in a black hole: %v, want context.Canceled", err)
	}

	// Held, renewing into a black hole, then Ctrl-C: release returns.
	hole.Remove()
	l := newLocker(f.b, 300*time.Millisecond, 0, nil)
	l.ReleaseTimeout = 500 * time.Millisecond
	ctx, cancel = context.WithCancel(t.Context())
	rel, err := l.Acquire(ctx, ann)
	if err != nil {
		t.Fatal(err)
	}
	renewals := f.p.On(lockPut, faultproxy.BlackHole, 0)
	testkit.WaitFor(t, "a renewal in the black hole", 10*time.Second, func() bool { return renewals.Seen() >= 1 })
	cancel()
	within(t, 30*time.Second, "release after Ctrl-C", rel)
}

// Requests signed for the proxy's address pass versitygw's SigV4 check
// through the proxy, and a wrong secret is still refused: the proxy
// forwards what the client signed.
func TestSignaturesPassTheProxy(t *testing.T) {
	f := setup(t)
	st := &s3state.State{B: f.b}
	if err := st.Save(t.Context(), "k", []byte(`{"a":1}`), ""); err != nil {
		t.Fatalf("signed write through the proxy: %v", err)
	}
	if data, _, err := st.Load(t.Context(), "k"); err != nil || string(data) != `{"a":1}` {
		t.Fatalf("signed read through the proxy: %q, %v", data, err)
	}
	bad := s3.New(s3.Options{Region: s3test.Region}, s3test.Options(f.p.URL()), func(o *s3.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(s3test.AccessKey, "wrong-secret", "")
	})
	_, err := bad.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(f.bucket), Key: aws.String("deployctl/production/state/k.json")})
	if err == nil || !strings.Contains(err.Error(), "SignatureDoesNotMatch") {
		t.Fatalf("a wrong secret through the proxy: %v, want SignatureDoesNotMatch", err)
	}
}
