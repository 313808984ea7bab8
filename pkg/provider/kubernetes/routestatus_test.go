package kubernetes

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/deployctl/deployctl/pkg/provider"
)

// cond is one condition a controller writes for a parent.
type cond struct{ typ, status, reason, msg string }

var (
	accepted = cond{"Accepted", "True", "Accepted", "Route is accepted"}
	resolved = cond{"ResolvedRefs", "True", "ResolvedRefs", "All references resolved"}
)

// writeRouteStatus writes status.parents as a Gateway controller would:
// one parent (Gateway "gateway"), the conditions observed at generation gen
// (0: the route's current generation).
func writeRouteStatus(t *testing.T, ns string, gen int64, conds ...cond) {
	t.Helper()
	u := srv.GetRoute(t, ns, "api")
	if gen == 0 {
		gen = u.GetGeneration()
	}
	var cs []any
	for _, c := range conds {
		cs = append(cs, map[string]any{"type": c.typ, "status": c.status, "reason": c.reason, "message": c.msg,
			"observedGeneration": gen, "lastTransitionTime": metav1.Now().UTC().Format(time.RFC3339)})
	}
	parents := []any{map[string]any{"parentRef": map[string]any{"name": "gateway"}, "controllerName": "example.com/gateway-controller", "conditions": cs}}
	if err := unstructured.SetNestedSlice(u.Object, parents, "status", "parents"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Dynamic.Resource(HTTPRouteGVR).Namespace(ns).UpdateStatus(t.Context(), u, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("write route status: %v", err)
	}
}

// controlledRoute is setup with a route a controller has accepted.
func controlledRoute(t *testing.T) (env, *Router, *notes) {
	e := setup(t)
	writeRouteStatus(t, e.ns, 0, accepted, resolved)
	n := &notes{}
	return e, &Router{Clients: e.c, Settings: e.s, Notef: n.add}, n
}

type notes struct {
	mu  sync.Mutex
	all []string
}

func (n *notes) add(f string, a ...any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.all = append(n.all, fmt.Sprintf(f, a...))
}

func (n *notes) String() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return strings.Join(n.all, "\n")
}

// startSetWeights runs SetWeights and waits until the new spec is stored.
func startSetWeights(t *testing.T, e env, r *Router, w provider.Weights) <-chan error {
	t.Helper()
	gen := srv.GetRoute(t, e.ns, "api").GetGeneration()
	done := make(chan error, 1)
	go func() { done <- r.SetWeights(t.Context(), w) }()
	waitFor(t, 10*time.Second, func() bool { return srv.GetRoute(t, e.ns, "api").GetGeneration() > gen })
	return done
}

func TestSetWeightsWaitsForControllerToAccept(t *testing.T) {
	e, r, _ := controlledRoute(t)
	done := startSetWeights(t, e, r, provider.Weights{provider.Blue: 90, provider.Green: 10})
	select {
	case err := <-done:
		t.Fatalf("SetWeights returned before any controller confirmed the new generation: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	writeRouteStatus(t, e.ns, 0, accepted, resolved)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if w, _ := r.Weights(t.Context()); w[provider.Green] != 10 {
		t.Fatalf("weights = %v", w)
	}
}

func TestSetWeightsRefusedByControllerPutsWeightsBack(t *testing.T) {
	e, r, _ := controlledRoute(t)
	done := startSetWeights(t, e, r, provider.Weights{provider.Blue: 0, provider.Green: 100})
	writeRouteStatus(t, e.ns, 0, accepted, cond{"ResolvedRefs", "False", "BackendNotFound", `Service "api-green" not found`})
	err := <-done
	for _, want := range []string{"ResolvedRefs=False", "BackendNotFound", `Service "api-green" not found`, "example.com/gateway-controller", "previous weights (blue 100, green 0) were put back"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("err = %v; want it to say %q", err, want)
		}
	}
	if w, _ := r.Weights(t.Context()); w[provider.Blue] != 100 || w[provider.Green] != 0 {
		t.Fatalf("weights after a refused change = %v, want the previous 100/0", w)
	}
}

func TestSetWeightsUnconfirmedInTimePutsWeightsBack(t *testing.T) {
	e, r, _ := controlledRoute(t)
	r.Settings.StatusTimeout = 700 * time.Millisecond
	err := r.SetWeights(t.Context(), provider.Weights{provider.Blue: 50, provider.Green: 50})
	if err == nil || !strings.Contains(err.Error(), "no Gateway controller confirmed generation") || !strings.Contains(err.Error(), "status_timeout") ||
		!strings.Contains(err.Error(), "has not reported Accepted") {
		t.Fatalf("err = %v", err)
	}
	if w, _ := r.Weights(t.Context()); w[provider.Blue] != 100 {
		t.Fatalf("weights = %v, want the previous ones back", w)
	}
	_ = e
}

// Nobody ever wrote the status: the change is stored with a warning, at
// once (no controller to wait for).
func TestSetWeightsWithoutControllerWarns(t *testing.T) {
	e := setup(t)
	n := &notes{}
	r := &Router{Clients: e.c, Settings: e.s, Notef: n.add}
	if err := r.SetWeights(t.Context(), provider.Weights{provider.Blue: 70, provider.Green: 30}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(n.String(), "no Gateway controller has ever written the status of HTTPRoute "+e.ns+"/api") {
		t.Fatalf("notes = %q, want a warning that nothing confirmed the change", n)
	}
	if w, _ := r.Weights(t.Context()); w[provider.Green] != 30 {
		t.Fatalf("weights = %v", w)
	}
}

func TestSettingsValidateStatusTimeout(t *testing.T) {
	s := &Settings{StatusTimeout: -time.Second}
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "status_timeout") {
		t.Fatalf("negative timeout: %v", err)
	}
	if def := Family().TrafficConfig.Settings().(*Settings); def.StatusTimeout != DefaultStatusTimeout {
		t.Fatalf("default status timeout = %s", def.StatusTimeout)
	}
}
