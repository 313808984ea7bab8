// Package providertest holds the suites every provider's implementation of
// an interface must pass (restic's backend test suite is the model): the
// local files and the Kubernetes objects are held to the same behaviour.
package providertest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
)

func holder(actor string, pid int) provider.Holder {
	return provider.Holder{
		Actor: actor, Host: "host-" + actor, PID: pid, Command: "rollout green",
		Reason: "reason of " + actor, Since: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

// TestLocker runs the Locker suite. newLocker returns a Locker on a fresh,
// empty environment each time it is called; two Lockers returned for the
// same t share nothing with other calls.
func TestLocker(t *testing.T, newLocker func(t *testing.T) provider.Locker) {
	t.Run("SecondAcquireNamesHolder", func(t *testing.T) { lockerSecond(t, newLocker(t)) })
	t.Run("ReleaseFreesAndIsIdempotent", func(t *testing.T) { lockerRelease(t, newLocker(t)) })
	t.Run("Inspector", func(t *testing.T) { lockerInspector(t, newLocker(t)) })
	t.Run("MutualExclusion", func(t *testing.T) { lockerExclusion(t, newLocker(t)) })
	t.Run("CancelledContext", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if rel, err := newLocker(t).Acquire(ctx, holder("ann", 1)); err == nil {
			rel()
			t.Fatal("Acquire with a cancelled context succeeded")
		}
	})
}

func mustAcquire(t *testing.T, l provider.Locker, h provider.Holder) func() error {
	t.Helper()
	rel, err := l.Acquire(t.Context(), h)
	if err != nil {
		t.Fatalf("Acquire(%s): %v", h.Actor, err)
	}
	return rel
}

func lockerSecond(t *testing.T, l provider.Locker) {
	ann := holder("ann", 101)
	rel := mustAcquire(t, l, ann)
	defer rel()
	_, err := l.Acquire(t.Context(), holder("bob", 202))
	var le *provider.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("second Acquire: got %v, want *provider.LockedError", err)
	}
	got := le.Holder
	if got.Actor != ann.Actor || got.PID != ann.PID || got.Host != ann.Host || got.Command != ann.Command || got.Reason != ann.Reason || !got.Since.Equal(ann.Since) {
		t.Errorf("LockedError holder = %+v, want %+v", got, ann)
	}
}

func lockerRelease(t *testing.T, l provider.Locker) {
	rel := mustAcquire(t, l, holder("ann", 101))
	if err := rel(); err != nil {
		t.Fatalf("release: %v", err)
	}
	if err := rel(); err != nil {
		t.Errorf("second release must be a no-op, got %v", err)
	}
	rel2 := mustAcquire(t, l, holder("bob", 202))
	if err := rel2(); err != nil {
		t.Fatalf("release: %v", err)
	}
}

func lockerInspector(t *testing.T, l provider.Locker) {
	in, ok := l.(provider.LockInspector)
	if !ok {
		t.Skip("provider has no LockInspector")
	}
	if h, err := in.Holder(t.Context()); err != nil || h != nil {
		t.Fatalf("free lock: Holder = %+v, %v; want nil, nil", h, err)
	}
	rel := mustAcquire(t, l, holder("ann", 101))
	h, err := in.Holder(t.Context())
	if err != nil || h == nil || h.Actor != "ann" || h.Reason != "reason of ann" {
		t.Fatalf("held lock: Holder = %+v, %v", h, err)
	}
	rel()
	if h, err := in.Holder(t.Context()); err != nil || h != nil {
		t.Fatalf("released lock: Holder = %+v, %v; want nil, nil", h, err)
	}
}

// lockerExclusion has several goroutines race for the lock: never two
// inside at once, and every one gets in eventually.
func lockerExclusion(t *testing.T, l provider.Locker) {
	const n = 8
	var inside, maxInside, done atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			deadline := time.Now().Add(30 * time.Second)
			for time.Now().Before(deadline) {
				rel, err := l.Acquire(t.Context(), holder("w", 1000+i))
				var le *provider.LockedError
				if errors.As(err, &le) {
					time.Sleep(time.Millisecond)
					continue
				}
				if err != nil {
					t.Errorf("Acquire: %v", err)
					return
				}
				if v := inside.Add(1); v > maxInside.Load() {
					maxInside.Store(v)
				}
				time.Sleep(2 * time.Millisecond)
				inside.Add(-1)
				rel()
				done.Add(1)
				return
			}
			t.Errorf("worker %d never got the lock", i)
		}()
	}
	wg.Wait()
	if maxInside.Load() != 1 || done.Load() != n {
		t.Errorf("max holders at once = %d (want 1), finished = %d (want %d)", maxInside.Load(), done.Load(), n)
	}
}
