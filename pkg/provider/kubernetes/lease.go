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
	"github.com/deployctl/deployctl/pkg/timeutil"
)

// Locker is the environment's lock as a coordination.k8s.io Lease in the
// namespace: its holderIdentity is the holder as JSON (actor, host, pid,
// command, reason), renewed while the command runs. Every change is a
// resourceVersion compare-and-swap, so two operators never both win.
//
// Expiry is judged as client-go's leaderelection does: by the taker's own
// observation, never by comparing the Lease's renewTime (the holder's wall
// clock) with the taker's wall clock. A Lease held by somebody else is taken
// over only once its record (resourceVersion, holder, renewTime) has been
// seen unchanged for longer than its leaseDurationSeconds by the taker's
// monotonic clock; a record that changes meanwhile belongs to a live holder.
// Clock skew between operators' machines therefore neither steals a live
// lock nor keeps a dead one.
type Locker struct {
	Clients  *Clients
	Name     string        // the Lease's name
	Duration time.Duration // how long a holder stays valid without renewing
	// Now is the clock: its wall reading goes into the Lease (acquireTime,
	// renewTime, for people), its monotonic reading measures how long a
	// record stayed unchanged. Tests skew it.
	Now func() time.Time
	// Notef warns the operator when renewing keeps failing or the lock is
	// lost, and while waiting to take over an abandoned lock; nil drops it.
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

// renewEvery is the renewal period; it is also how soon a taker sees a live
// holder's record change, so it stays short (client-go's RetryPeriod is 2s).
func (l *Locker) renewEvery() time.Duration {
	return min(max(l.Duration/3, 50*time.Millisecond), 2*time.Second)
}

// pollEvery is how often a taker re-reads a Lease it is watching.
func (l *Locker) pollEvery() time.Duration {
	return min(max(l.Duration/20, 20*time.Millisecond), 500*time.Millisecond)
}

func (l *Locker) notef(format string, a ...any) {
	if l.Notef != nil {
		l.Notef(format, a...)
	}
}

// observation is a Lease record as a taker saw it, and when (monotonic).
type observation struct {
	version, holder, renew string
	duration               time.Duration
	at                     time.Time
}

func observe(le *coordv1.Lease, at time.Time) *observation {
	o := &observation{version: le.ResourceVersion, at: at, duration: DefaultLeaseDuration}
	if id := le.Spec.HolderIdentity; id != nil {
		o.holder = *id
	}
	if rt := le.Spec.RenewTime; rt != nil {
		o.renew = rt.UTC().Format(time.RFC3339Nano)
	}
	if d := le.Spec.LeaseDurationSeconds; d != nil {
		o.duration = time.Duration(*d) * time.Second
	}
	return o
}

func (o *observation) same(p *observation) bool {
	return o.version == p.version && o.holder == p.holder && o.renew == p.renew
}

// Acquire takes the lease for h or returns *provider.LockedError naming the
// current holder. A Lease held by somebody else is watched until its record
// changes (a live holder: LockedError) or stays unchanged for its duration
// (an abandoned lock: taken over), within ctx.
func (l *Locker) Acquire(ctx context.Context, h provider.Holder) (func() error, error) {
	leases := l.Clients.Kube.CoordinationV1().Leases(l.Clients.Namespace)
	if h.Since.IsZero() {
		h.Since = l.Now()
	}
	h.Expires = time.Time{}
	raw, _ := json.Marshal(h)
	mine := string(raw)
	var watched *observation
	for attempt := 0; ; {
		cur, err := leases.Get(ctx, l.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			cur, err = leases.Create(ctx, l.take(&coordv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: l.Name, Labels: labels("lock")}}, mine), metav1.CreateOptions{FieldManager: "deployctl"})
		case err == nil:
			if other, held := l.heldByOther(cur, mine); held {
				seen := observe(cur, l.Now())
				switch {
				case watched != nil && !watched.same(seen):
					return nil, &provider.LockedError{Holder: other} // renewed: alive
				case watched == nil:
					watched = seen
					l.notef("the lock is held by %s (%s); checking that it is still renewed", other.Actor, other.Host)
				}
				if l.Now().Sub(watched.at) <= watched.duration {
					if err := timeutil.Sleep(ctx, l.pollEvery()); err != nil {
						return nil, err
					}
					continue
				}
				l.notef("the lock held by %s (%s) was not renewed for %s; taking it over", other.Actor, other.Host, watched.duration)
			}
			cur, err = leases.Update(ctx, l.take(cur, mine), metav1.UpdateOptions{FieldManager: "deployctl"})
		}
		if (apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err)) && attempt < 50 {
			attempt++
			watched = nil
			continue // somebody else moved first: look again
		}
		if err != nil && !isAPIStatus(err) && ctx.Err() == nil {
			// The reply was lost, not necessarily the write: look.
			if got, gerr := leases.Get(ctx, l.Name, metav1.GetOptions{}); gerr == nil && got.Spec.HolderIdentity != nil && *got.Spec.HolderIdentity == mine {
				cur, err = got, nil
			}
		}
		if err != nil {
			return nil, l.Clients.explain(err, "take", l.lease())
		}
		return l.keep(ctx, cur, mine), nil
	}
}

func isAPIStatus(err error) bool {
	var st apierrors.APIStatus
	return errors.As(err, &st)
}

// holderOf decodes the Lease's holder; ok is false for a free Lease.
func holderOf(le *coordv1.Lease) (h provider.Holder, ok bool) {
	id := le.Spec.HolderIdentity
	if id == nil || *id == "" {
		return h, false
	}
	if err := json.Unmarshal([]byte(*id), &h); err != nil {
		h = provider.Holder{Actor: *id, Command: "unknown (not deployctl)"}
	}
	if rt, d := le.Spec.RenewTime, le.Spec.LeaseDurationSeconds; rt != nil && d != nil {
		h.Expires = rt.Add(time.Duration(*d) * time.Second) // the holder's clock: for people
	}
	return h, true
}

// heldByOther reports the holder of a Lease somebody other than mine holds
// (expired or not: only observation tells).
func (l *Locker) heldByOther(le *coordv1.Lease, mine string) (provider.Holder, bool) {
	h, ok := holderOf(le)
	if !ok || *le.Spec.HolderIdentity == mine {
		return h, false
	}
	return h, true
}

func (l *Locker) take(le *coordv1.Lease, mine string) *coordv1.Lease {
	now := metav1.NewMicroTime(l.Now())
	secs := int32(l.Duration / time.Second)
	if secs < 1 {
		secs = 1
	}
	if le.Spec.HolderIdentity == nil || *le.Spec.HolderIdentity != mine {
		transitions := int32(1)
		if le.Spec.LeaseTransitions != nil {
			transitions = *le.Spec.LeaseTransitions + 1
		}
		le.Spec.LeaseTransitions = &transitions
		le.Spec.AcquireTime = &now
	}
	id := mine
	le.Spec.HolderIdentity = &id
	le.Spec.LeaseDurationSeconds = &secs
	le.Spec.RenewTime = &now
	return le
}

// keep renews the lease until release clears it or the command's context
// ends.
func (l *Locker) keep(ctx context.Context, le *coordv1.Lease, mine string) func() error {
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.renewLoop(rctx, le, mine)
	}()
	var once sync.Once
	var relErr error
	return func() error {
		once.Do(func() {
			cancel()
			<-done
			relErr = l.release(context.WithoutCancel(ctx), mine)
		})
		return relErr
	}
}

func (l *Locker) renewLoop(ctx context.Context, cur *coordv1.Lease, mine string) {
	t := time.NewTicker(l.renewEvery())
	defer t.Stop()
	lastOK, warned := l.Now(), false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		out, lost, err := l.renew(ctx, cur, mine)
		switch {
		case ctx.Err() != nil:
			return
		case lost != nil:
			l.notef("the lock was taken over by %s (%s) after it could not be renewed for %s; stop and check what they are doing", lost.Actor, lost.Host, l.Duration)
			return
		case err == nil:
			cur, lastOK, warned = out, l.Now(), false
		case !warned && l.Now().Sub(lastOK) > l.Duration/2:
			l.notef("the lock could not be renewed for %s, so another operator may take it over soon: %v", l.Now().Sub(lastOK).Round(time.Second), l.Clients.explain(err, "renew", l.lease()))
			warned = true
		}
	}
}

// renew moves the renewTime on. A failed write (a Conflict, or an error
// whose reply was lost although the write may have been stored) is never
// retried on the cached object: the Lease is read again and, while its
// holder is still mine, updated from that fresh copy. lost is set when
// somebody else holds it now.
func (l *Locker) renew(ctx context.Context, cur *coordv1.Lease, mine string) (out *coordv1.Lease, lost *provider.Holder, err error) {
	leases := l.Clients.Kube.CoordinationV1().Leases(l.Clients.Namespace)
	le := cur
	for range 3 {
		le = le.DeepCopy()
		now := metav1.NewMicroTime(l.Now())
		le.Spec.RenewTime = &now
		if out, err = leases.Update(ctx, le, metav1.UpdateOptions{FieldManager: "deployctl"}); err == nil {
			return out, nil, nil
		}
		fresh, gerr := leases.Get(ctx, l.Name, metav1.GetOptions{})
		if gerr != nil {
			return nil, nil, err
		}
		if fresh.Spec.HolderIdentity == nil || *fresh.Spec.HolderIdentity != mine {
			h, _ := holderOf(fresh)
			return nil, &h, err
		}
		le = fresh
	}
	return nil, nil, err
}

// release clears the holder, unless somebody took the lease over after it
// expired. It compares the holder, not the version: a renewal cancelled in
// flight may still have been stored.
func (l *Locker) release(ctx context.Context, mine string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	leases := l.Clients.Kube.CoordinationV1().Leases(l.Clients.Namespace)
	err := retry.OnError(conflictBackoff, func(err error) bool { return !apierrors.IsNotFound(err) && ctx.Err() == nil }, func() error {
		cur, err := leases.Get(ctx, l.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cur.Spec.HolderIdentity == nil || *cur.Spec.HolderIdentity != mine {
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

// Holder returns who holds the lock now, nil when it is free.
func (l *Locker) Holder(ctx context.Context) (*provider.Holder, error) {
	le, err := l.Clients.Kube.CoordinationV1().Leases(l.Clients.Namespace).Get(ctx, l.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, l.Clients.explain(err, "read", l.lease())
	}
	// One read cannot tell a crashed holder from a live one without
	// trusting its clock (see Locker), so the holder shows until it
	// releases or is taken over; Expires, from its renewTime, is for people.
	if h, held := holderOf(le); held {
		return &h, nil
	}
	return nil, nil
}
