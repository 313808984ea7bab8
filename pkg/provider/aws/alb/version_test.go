package alb_test

import (
	"strings"
	"testing"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/aws/alb/albtest"
)

// A slot's version is its target group's registered targets: the same
// whatever their health or order, without those being deregistered, and
// different as soon as a deployment registers other targets. Without it
// `rollback` could never tell that the standby still runs the release it
// returns to, and refused every rollback on aws-alb.
func TestSlotVersionIsTheRegisteredTargets(t *testing.T) {
	fx := newFixture(t)
	r := fx.open(t)
	version := func(targets ...albtest.Target) string {
		t.Helper()
		fx.fake.SetHealth(greenTG, targets...)
		st, err := r.Slot(t.Context(), provider.Green)
		if err != nil {
			t.Fatal(err)
		}
		return st.Version
	}
	h := func(id string) albtest.Target { return albtest.Target{ID: id, State: "healthy"} }

	if v := version(); v != "" {
		t.Errorf("no targets: version %q, want unknown", v)
	}
	v1 := version(h("i-2"), h("i-1"))
	if v1 != "targets i-1:80, i-2:80" {
		t.Errorf("version %q", v1)
	}
	if v := version(albtest.Target{ID: "i-1", State: "unhealthy", Reason: "Target.Timeout"}, h("i-2")); v != v1 {
		t.Errorf("a target's health changed the version: %q, was %q", v, v1)
	}
	if v := version(h("i-1"), h("i-2"), albtest.Target{ID: "i-0", State: "draining", Reason: "Target.DeregistrationInProgress"}); v != v1 {
		t.Errorf("a target being deregistered changed the version: %q, was %q", v, v1)
	}
	if v := version(h("i-3"), h("i-2")); v == v1 {
		t.Errorf("a new target left the version at %q", v)
	}
	five := version(h("a"), h("b"), h("c"), h("d"), h("e"))
	if !strings.HasPrefix(five, "targets a:80, b:80, c:80 +2 more (sha256 ") {
		t.Errorf("five targets: %q", five)
	}
	if other := version(h("a"), h("b"), h("c"), h("d"), h("f")); other == five {
		t.Errorf("two sets of five targets that differ in the last share the version %q", five)
	}
}
