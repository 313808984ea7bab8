package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/deployctl/deployctl/pkg/provider"
)

// Locker is the environment's lock as a coordination.k8s.io Lease in the
// namespace: its holderIdentity is the holder as JSON (actor, host, pid,
// command, reason), renewed while the command runs. A lease whose holder
// stopped renewing (a crashed command, a lost laptop) is taken over once it
// has expired; every change is a resourceVersion compare-and-swap, so two
// operators never both win.
type Locker struct {
	Clients  *Clients
	Name     string        // the Lease's name
	Duration time.Duration // how long a holder stays valid without renewing
	Now      func() time.Time
	// Notef warns the operator when renewing keeps failing; nil drops it.
	Notef func(format string, a ...any)
}

var (
	_ provider.Locker        = (*Locker)(nil)
	_ provider.LockInspector = (*Locker)(nil)
)

// DefaultLeaseDuration is how long a lock outlives its last renewal.
const DefaultLeaseDuration = 30 * time.Second

// NewLocker returns the lock of environment env.
func NewLocker(c *Clients, env string) *Locker {
	return &Locker{Clients: c, Name: "deployctl-lock-" + env, Duration: DefaultLeaseDuration, Now: time.Now}
}

func (l *Locker) lease() object {
	return object{Kind: "Lease", Namespace: l.Clients.Namespace, Name: l.Name}
}

// Acquire takes the lease for h or returns *provider.LockedError naming the
// current holder.
func (l *Locker) Acquire(ctx context.Context, h provider.Holder) (func() error, error) {
	leases := l.Clients.Kube.CoordinationV1().Leases(l.Clients.Namespace)
	for attempt := 0; ; attempt++ {
		cur, err := leases.Get(ctx, l.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			cur, err = leases.Create(ctx, l.take(&coordv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: l.Name, Labels: labels("lock")}}, h), metav1.CreateOptions{FieldManager: "deployctl"})
		case err == nil:
			if other, held := l.heldBy(cur); held {
				return nil, &provider.LockedError{Holder: other}
			}
			cur, err = leases.Update(ctx, l.take(cur, h), metav1.UpdateOptions{FieldManager: "deployctl"})
		}
		if (apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err)) && attempt < 50 {
			continue // somebody else moved first: look again
		}
		if err != nil {
			return nil, l.Clients.explain(err, "take", l.lease())
		}
		return l.keep(cur), nil
	}
}

// heldBy reports the holder of a lease that has not expired.
func (l *Locker) heldBy(le *coordv1.Lease) (provider.Holder, bool) {
	var h provider.Holder
	id := le.Spec.HolderIdentity
	if id == nil || *id == "" {
		return h, false
	}
	if err := json.Unmarshal([]byte(*id), &h); err != nil {
		h = provider.Holder{Actor: *id, Command: "unknown (not deployctl)"}
	}
	renewed := le.Spec.RenewTime
	dur := le.Spec.LeaseDurationSeconds
	if renewed == nil || dur == nil {
		return h, true
	}
	h.Expires = renewed.Add(time.Duration(*dur) * time.Second)
	return h, l.Now().Before(h.Expires)
}

func (l *Locker) take(le *coordv1.Lease, h provider.Holder) *coordv1.Lease {
	now := metav1.NewMicroTime(l.Now())
	if h.Since.IsZero() {
		h.Since = now.Time
	}
	h.Expires = time.Time{}
	raw, _ := json.Marshal(h)
	id := string(raw)
	secs := int32(l.Duration / time.Second)
	if secs < 1 {
		secs = 1
	}
	le.Spec.HolderIdentity = &id
	le.Spec.LeaseDurationSeconds = &secs
	le.Spec.AcquireTime = &now
	le.Spec.RenewTime = &now
	transitions := int32(1)
	if le.Spec.LeaseTransitions != nil {
		transitions = *le.Spec.LeaseTransitions + 1
	}
	le.Spec.LeaseTransitions = &transitions
	return le
}

// keep renews the lease in the background until release clears it.
func (l *Locker) keep(le *coordv1.Lease) func() error {
	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu   sync.Mutex
		cur  = le
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		l.renewLoop(ctx, &mu, &cur)
	}()
	var once sync.Once
	var relErr error
	return func() error {
		once.Do(func() {
			cancel()
			<-done
			mu.Lock()
			defer mu.Unlock()
			relErr = l.release(cur)
		})
		return relErr
	}
}

func (l *Locker) renewLoop(ctx context.Context, mu *sync.Mutex, cur **coordv1.Lease) {
	leases := l.Clients.Kube.CoordinationV1().Leases(l.Clients.Namespace)
	t := time.NewTicker(max(l.Duration/3, 100*time.Millisecond))
	defer t.Stop()
	lastOK := l.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		mu.Lock()
		le := (*cur).DeepCopy()
		now := metav1.NewMicroTime(l.Now())
		le.Spec.RenewTime = &now
		out, err := leases.Update(ctx, le, metav1.UpdateOptions{FieldManager: "deployctl"})
		if err == nil {
			*cur, lastOK = out, l.Now()
		}
		mu.Unlock()
		if err != nil && !errors.Is(err, context.Canceled) && l.Now().Sub(lastOK) > l.Duration && l.Notef != nil {
			l.Notef("the lock could not be renewed for %s, so another operator may take it over: %v", l.Duration, l.Clients.explain(err, "renew", l.lease()))
		}
	}
}

// release clears the holder, unless somebody took the lease over after it
// expired. It compares the holder, not the version: a renewal cancelled in
// flight may still have been stored.
func (l *Locker) release(le *coordv1.Lease) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	leases := l.Clients.Kube.CoordinationV1().Leases(l.Clients.Namespace)
	mine := le.Spec.HolderIdentity
	err := retry.RetryOnConflict(conflictBackoff, func() error {
		cur, err := leases.Get(ctx, l.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cur.Spec.HolderIdentity == nil || mine == nil || *cur.Spec.HolderIdentity != *mine {
			return nil
		}
		empty := ""
		cur.Spec.HolderIdentity = &empty
		cur.Spec.RenewTime, cur.Spec.AcquireTime = nil, nil
		_, err = leases.Update(ctx, cur, metav1.UpdateOptions{FieldManager: "deployctl"})
		return err
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return l.Clients.explain(err, "release", l.lease())
}

// Holder returns who holds the lock now, nil when free or expired.
func (l *Locker) Holder(ctx context.Context) (*provider.Holder, error) {
	le, err := l.Clients.Kube.CoordinationV1().Leases(l.Clients.Namespace).Get(ctx, l.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, l.Clients.explain(err, "read", l.lease())
	}
	if h, held := l.heldBy(le); held {
		return &h, nil
	}
	return nil, nil
}
