package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/deployctl/deployctl/internal/testkit"
	"github.com/deployctl/deployctl/internal/testkit/faultproxy"
	"github.com/deployctl/deployctl/pkg/provider"
)

func holder(actor string) provider.Holder {
	return provider.Holder{Actor: actor, Host: "laptop-" + actor, PID: 42, Command: "rollout green", Reason: "release 2", Since: time.Now()}
}

func TestLeaseSecondOperatorIsLocked(t *testing.T) {
	ns := srv.Namespace(t)
	ctx := t.Context()
	alice := NewLocker(clientsAs(t, ns, srv.Config), "staging")
	bob := NewLocker(clientsAs(t, ns, srv.Config), "staging")
	release, err := alice.Acquire(ctx, holder("alice"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = bob.Acquire(ctx, holder("bob"))
	var le *provider.LockedError
	if !errors.As(err, &le) || le.Holder.Actor != "alice" || le.Holder.Host != "laptop-alice" || le.Holder.Reason != "release 2" {
		t.Fatalf("second operator: %v", err)
	}
	if h, _ := bob.Holder(ctx); h == nil || h.Actor != "alice" || h.Command != "rollout green" {
		t.Fatalf("holder = %+v", h)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	rel2, err := bob.Acquire(ctx, holder("bob"))
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	_ = rel2()
	if h, _ := bob.Holder(ctx); h != nil {
		t.Fatalf("holder after release = %+v", h)
	}
}

func TestLeaseIsRenewedWhileHeld(t *testing.T) {
	ns := srv.Namespace(t)
	ctx := t.Context()
	alice := NewLocker(clientsAs(t, ns, srv.Config), "staging")
	alice.Duration = 2 * time.Second
	release, err := alice.Acquire(ctx, holder("alice"))
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	first := leaseRenewTime(t, ns)
	waitFor(t, 5*time.Second, func() bool { return leaseRenewTime(t, ns).After(first) })
	bob := NewLocker(clientsAs(t, ns, srv.Config), "staging")
	time.Sleep(2500 * time.Millisecond) // past the duration: only renewal keeps it
	if _, err := bob.Acquire(ctx, holder("bob")); !errors.As(err, new(*provider.LockedError)) {
		t.Fatalf("lease held and renewed, yet: %v", err)
	}
}

func leaseRenewTime(t *testing.T, ns string) time.Time {
	t.Helper()
	le, err := srv.Kube.CoordinationV1().Leases(ns).Get(t.Context(), "deployctl-lock-staging", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var h provider.Holder
	if err := json.Unmarshal([]byte(*le.Spec.HolderIdentity), &h); err != nil {
		t.Fatalf("holder identity is not JSON: %v", err)
	}
	return le.Spec.RenewTime.Time
}

func waitFor(t *testing.T, d time.Duration, ok func() bool) {
	t.Helper()
	testkit.WaitFor(t, "the condition", d, ok)
}

// proxied returns clients that reach the test server through a
// fault-injecting proxy (which carries the client certificate).
func proxied(t *testing.T, ns string) (*faultproxy.Proxy, *Clients) {
	t.Helper()
	rt, err := rest.TransportFor(srv.Config)
	if err != nil {
		t.Fatal(err)
	}
	host := srv.Config.Host
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	p := faultproxy.Start(t, host, rt, true)
	return p, clientsAs(t, ns, &rest.Config{Host: p.URL(), TLSClientConfig: rest.TLSClientConfig{Insecure: true}})
}

func leasePut(name string) func(*http.Request) bool {
	return faultproxy.All(faultproxy.Method(http.MethodPut), faultproxy.PathContains("/leases/"+name))
}

// A renewal whose reply is lost was stored all the same: the holder must
// re-read the Lease instead of retrying its stale copy into Conflicts until
// the lock expires under it.
func TestLeaseSurvivesLostRenewalReplies(t *testing.T) {
	ns := srv.Namespace(t)
	ctx := t.Context()
	p, c := proxied(t, ns)
	alice := NewLocker(c, "staging")
	alice.Duration = 2 * time.Second
	var mu sync.Mutex
	var notes []string
	alice.Notef = func(f string, a ...any) { mu.Lock(); notes = append(notes, f); mu.Unlock() }
	release, err := alice.Acquire(ctx, holder("alice"))
	if err != nil {
		t.Fatal(err)
	}
	lost := p.On(leasePut("deployctl-lock-staging"), faultproxy.DropReply, 3)
	waitFor(t, 10*time.Second, func() bool { return lost.Seen() >= 3 })
	after := leaseRenewTime(t, ns)
	waitFor(t, 5*time.Second, func() bool { return leaseRenewTime(t, ns).After(after) })
	bob := NewLocker(clientsAs(t, ns, srv.Config), "staging")
	bob.Duration = alice.Duration
	if _, err := bob.Acquire(ctx, holder("bob")); !errors.As(err, new(*provider.LockedError)) {
		t.Fatalf("alice kept renewing, yet bob: %v", err)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if h, _ := bob.Holder(ctx); h != nil {
		t.Fatalf("holder after release = %+v", h)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, n := range notes {
		if strings.Contains(n, "taken over") {
			t.Fatalf("alice was told she lost the lock: %q", notes)
		}
	}
}

// A lost reply to the write that takes the lock is not a failure either.
func TestLeaseSurvivesLostAcquireReply(t *testing.T) {
	ns := srv.Namespace(t)
	p, c := proxied(t, ns)
	lost := p.On(faultproxy.All(faultproxy.Method(http.MethodPost), faultproxy.PathContains("/leases")), faultproxy.DropReply, 1)
	release, err := NewLocker(c, "staging").Acquire(t.Context(), holder("alice"))
	if err != nil || lost.Seen() != 1 {
		t.Fatalf("Acquire after a lost reply: %v (seen %d)", err, lost.Seen())
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
}

// deadLease writes a Lease whose holder stopped renewing at renewed (its
// own clock), as a crashed command leaves it.
func deadLease(t *testing.T, ns string, renewed time.Time) {
	t.Helper()
	raw, _ := json.Marshal(holder("crashed"))
	id, secs, rt := string(raw), int32(2), metav1.NewMicroTime(renewed)
	le := &coordv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "deployctl-lock-staging"},
		Spec: coordv1.LeaseSpec{HolderIdentity: &id, LeaseDurationSeconds: &secs, RenewTime: &rt, AcquireTime: &rt}}
	if _, err := srv.Kube.CoordinationV1().Leases(ns).Create(t.Context(), le, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func skewed(d time.Duration) func() time.Time { return func() time.Time { return time.Now().Add(d) } }

// Expiry is the taker's observation: five minutes of skew between the
// holder's and the taker's clocks, either way, neither steals a live lock
// nor keeps a dead one.
func TestLeaseExpiryIgnoresClockSkew(t *testing.T) {
	const skew = 5 * time.Minute
	cases := []struct {
		name                string
		holderSkew, taker   time.Duration
		alive, wantTakeover bool
	}{
		{"live holder, taker 5m ahead", 0, skew, true, false},
		{"live holder, taker 5m behind", 0, -skew, true, false},
		{"live holder 5m behind, taker on time", -skew, 0, true, false},
		{"dead holder, taker 5m ahead", 0, skew, false, true},
		{"dead holder, taker 5m behind", 0, -skew, false, true},
		{"dead holder 5m ahead, taker on time", skew, 0, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns := srv.Namespace(t)
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			if tc.alive {
				alice := NewLocker(clientsAs(t, ns, srv.Config), "staging")
				alice.Duration, alice.Now = 2*time.Second, skewed(tc.holderSkew)
				rel, err := alice.Acquire(ctx, holder("alice"))
				if err != nil {
					t.Fatal(err)
				}
				defer rel()
			} else {
				deadLease(t, ns, time.Now().Add(tc.holderSkew))
			}
			bob := NewLocker(clientsAs(t, ns, srv.Config), "staging")
			bob.Duration, bob.Now = 2*time.Second, skewed(tc.taker)
			rel, err := bob.Acquire(ctx, holder("bob"))
			if !tc.wantTakeover {
				if !errors.As(err, new(*provider.LockedError)) {
					t.Fatalf("a live lock was not reported as held: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("an abandoned lock was not taken over: %v", err)
			}
			defer rel()
			if h, _ := bob.Holder(ctx); h == nil || h.Actor != "bob" {
				t.Fatalf("holder = %+v", h)
			}
		})
	}
}

// Renewal stops with the command: an interrupted command's lock expires.
func TestLeaseRenewalFollowsCommandContext(t *testing.T) {
	ns := srv.Namespace(t)
	ctx, cancel := context.WithCancel(t.Context())
	alice := NewLocker(clientsAs(t, ns, srv.Config), "staging")
	alice.Duration = 2 * time.Second
	if _, err := alice.Acquire(ctx, holder("alice")); err != nil {
		t.Fatal(err)
	}
	cancel() // interrupted, and never released
	bob := NewLocker(clientsAs(t, ns, srv.Config), "staging")
	bob.Duration = alice.Duration
	rel, err := bob.Acquire(t.Context(), holder("bob"))
	if err != nil {
		t.Fatalf("the lock of a cancelled command was still renewed: %v", err)
	}
	_ = rel()
}
