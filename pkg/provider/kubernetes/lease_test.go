package kubernetes

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deployctl/deployctl/internal/testkit"
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

func TestExpiredLeaseIsTakenOver(t *testing.T) {
	ns := srv.Namespace(t)
	ctx := t.Context()
	crashed := NewLocker(clientsAs(t, ns, srv.Config), "staging")
	crashed.Now = func() time.Time { return time.Now().Add(-time.Hour) } // last renewed an hour ago
	if _, err := crashed.Acquire(ctx, holder("crashed")); err != nil {
		t.Fatal(err)
	}
	bob := NewLocker(clientsAs(t, ns, srv.Config), "staging")
	release, err := bob.Acquire(ctx, holder("bob"))
	if err != nil {
		t.Fatalf("expired lease not taken over: %v", err)
	}
	defer release()
	h, _ := bob.Holder(ctx)
	if h == nil || h.Actor != "bob" {
		t.Fatalf("holder = %+v", h)
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
