package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"

	"github.com/deployctl/deployctl/pkg/provider"
)

// withWeights is the route spec as it should be after a weight change:
// the original with only the two slot weights replaced.
func withWeights(t *testing.T, orig *unstructured.Unstructured, blue, green int64) map[string]any {
	t.Helper()
	spec := normalize(t, orig.Object["spec"])
	refs := spec.(map[string]any)["rules"].([]any)[1].(map[string]any)["backendRefs"].([]any)
	refs[0].(map[string]any)["weight"] = float64(blue)
	refs[1].(map[string]any)["weight"] = float64(green)
	return spec.(map[string]any)
}

// normalize round-trips v through JSON so that numbers compare equal.
func normalize(t *testing.T, v any) any {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSetWeightsReadsBackAndKeepsForeignContent(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	orig := srv.GetRoute(t, e.ns, "api")
	r := &Router{Clients: e.c, Settings: e.s}
	w, err := r.Weights(ctx)
	if err != nil || w[provider.Blue] != 100 || w[provider.Green] != 0 {
		t.Fatalf("initial weights = %v, %v; want blue 100", w, err)
	}
	if err := r.SetWeights(ctx, provider.Weights{provider.Blue: 90, provider.Green: 10}); err != nil {
		t.Fatal(err)
	}
	if w, _ := r.Weights(ctx); w[provider.Blue] != 90 || w[provider.Green] != 10 {
		t.Fatalf("read back %v, want 90/10", w)
	}
	got := srv.GetRoute(t, e.ns, "api")
	if want := withWeights(t, orig, 90, 10); !reflect.DeepEqual(normalize(t, got.Object["spec"]), want) {
		t.Fatalf("route spec changed beyond the two weights:\n got %v\nwant %v", got.Object["spec"], want)
	}
	if !reflect.DeepEqual(got.GetLabels(), orig.GetLabels()) || !reflect.DeepEqual(got.GetAnnotations(), orig.GetAnnotations()) {
		t.Fatalf("metadata changed: %v %v", got.GetLabels(), got.GetAnnotations())
	}
}

func TestSetWeightsRetriesConflict(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	writes := 0
	r := &Router{Clients: e.c, Settings: e.s}
	// Another writer changes the route between our read and our write, once.
	r.beforeWrite = func() {
		if writes++; writes > 1 {
			return
		}
		u := srv.GetRoute(t, e.ns, "api")
		u.SetAnnotations(map[string]string{"example.com/owner": "payments-team", "other": "writer"})
		if _, err := srv.Dynamic.Resource(HTTPRouteGVR).Namespace(e.ns).Update(ctx, u, metav1.UpdateOptions{}); err != nil {
			t.Errorf("other writer: %v", err)
		}
	}
	if err := r.SetWeights(ctx, provider.Weights{provider.Blue: 50, provider.Green: 50}); err != nil {
		t.Fatal(err)
	}
	if writes != 2 {
		t.Fatalf("attempts = %d, want 2 (one conflict, one retry)", writes)
	}
	got := srv.GetRoute(t, e.ns, "api")
	if got.GetAnnotations()["other"] != "writer" {
		t.Fatal("the other writer's change was lost")
	}
	if w, _ := r.Weights(ctx); w[provider.Green] != 50 {
		t.Fatalf("weights %v", w)
	}
}

func TestSetWeightsRefusesBadWeightsAndMissingRule(t *testing.T) {
	e := setup(t)
	r := &Router{Clients: e.c, Settings: e.s}
	if err := r.SetWeights(t.Context(), provider.Weights{provider.Blue: 90, provider.Green: 20}); err == nil {
		t.Fatal("weights summing to 110 accepted")
	}
	s := e.s
	s.Slots.Blue.Service, s.Slots.Green.Service = "nope-blue", "nope-green"
	r = &Router{Clients: e.c, Settings: s}
	err := r.SetWeights(t.Context(), provider.Weights{provider.Blue: 0, provider.Green: 100})
	if err == nil || !strings.Contains(err.Error(), "no rule forwarding to Service nope-blue") {
		t.Fatalf("err = %v", err)
	}
}

func TestSetWeightsAddsMissingSlotBackend(t *testing.T) {
	ns := srv.Namespace(t)
	srv.Route(t, ns, `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: api}
spec:
  rules:
  - backendRefs: [{name: api-blue, port: 80}]
`)
	r := &Router{Clients: clientsAs(t, ns, srv.Config), Settings: settings()}
	if err := r.SetWeights(t.Context(), provider.Weights{provider.Blue: 70, provider.Green: 30}); err != nil {
		t.Fatal(err)
	}
	refs := backendRefs(srv.GetRoute(t, ns, "api").Object["spec"].(map[string]any)["rules"].([]any)[0])
	if len(refs) != 2 || refs[1].(map[string]any)["name"] != "api-green" || weightOf(refs[1]) != 30 {
		t.Fatalf("refs = %v", refs)
	}
}

func TestRouteNotFoundNamesObject(t *testing.T) {
	ns := srv.Namespace(t)
	s := settings()
	s.Route = "missing"
	r := &Router{Clients: clientsAs(t, ns, srv.Config), Settings: s}
	_, err := r.Weights(t.Context())
	if !errors.Is(err, provider.ErrNotFound) || !strings.Contains(err.Error(), "HTTPRoute "+ns+"/missing not found") {
		t.Fatalf("err = %v", err)
	}
}

func TestForbiddenUserChangesNothing(t *testing.T) {
	e := setup(t)
	before := srv.GetRoute(t, e.ns, "api")
	c := clientsAs(t, e.ns, srv.UserConfig(t, "intern"))
	r := &Router{Clients: c, Settings: e.s}
	err := r.SetWeights(context.Background(), provider.Weights{provider.Blue: 0, provider.Green: 100})
	if err == nil || !strings.Contains(err.Error(), "the cluster refused to update HTTPRoute "+e.ns+"/api") ||
		!strings.Contains(err.Error(), `User "intern" cannot get resource "httproutes"`) || !strings.Contains(err.Error(), "docs/kubernetes.md") {
		t.Fatalf("err = %v", err)
	}
	if after := srv.GetRoute(t, e.ns, "api"); after.GetResourceVersion() != before.GetResourceVersion() {
		t.Fatal("route changed")
	}
}

func TestUnreachableCluster(t *testing.T) {
	c := clientsAs(t, "default", &rest.Config{Host: "https://127.0.0.1:1"})
	r := &Router{Clients: c, Settings: settings()}
	_, err := r.Weights(t.Context())
	var ue *provider.UnreachableError
	if !errors.As(err, &ue) || !strings.Contains(ue.What, "kubernetes API at https://127.0.0.1:1") {
		t.Fatalf("err = %v (%T)", err, err)
	}
}
