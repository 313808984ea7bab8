package kubernetes

import (
	"os"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/deployctl/deployctl/pkg/provider"
)

// applyRendered renders the repository's templates for s and creates every
// object for real in s.Namespace.
func applyRendered(t *testing.T, s Settings) {
	t.Helper()
	files, err := Render(os.DirFS("../../../templates/kubernetes"), ValuesFor("staging", s))
	if err != nil {
		t.Fatal(err)
	}
	resources := map[string]string{"Deployment": "deployments", "Service": "services", "ConfigMap": "configmaps", "HTTPRoute": "httproutes", "PodDisruptionBudget": "poddisruptionbudgets"}
	for _, f := range files {
		objs, err := Objects(f.Content)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range objs {
			gvk := o.GroupVersionKind()
			gvr := schema.GroupVersionResource{Group: gvk.Group, Version: gvk.Version, Resource: resources[gvk.Kind]}
			if _, err := srv.Dynamic.Resource(gvr).Namespace(s.Namespace).Create(t.Context(), o, metav1.CreateOptions{}); err != nil {
				t.Fatalf("create %s %s: %v", gvk.Kind, o.GetName(), err)
			}
		}
	}
}

// What render writes is what the provider drives: the route's weights, the
// maintenance backend on the slots' port, the Service selector of mode service.
func TestRenderedManifestsWorkWithTheProvider(t *testing.T) {
	ns := srv.Namespace(t)
	s := settings()
	s.Namespace = ns
	applyRendered(t, s)
	c := clientsAs(t, ns, srv.Config)
	r := &Router{Clients: c, Settings: s}
	if w, err := r.Weights(t.Context()); err != nil || w[provider.Blue] != 100 {
		t.Fatalf("rendered weights = %v, %v", w, err)
	}
	if err := r.SetWeights(t.Context(), provider.Weights{provider.Blue: 90, provider.Green: 10}); err != nil {
		t.Fatal(err)
	}
	m := &Maintenance{Router: r}
	if err := m.SetMaintenance(t.Context(), provider.MaintenanceState{On: true}); err != nil {
		t.Fatal(err)
	}
	if err := m.SetMaintenance(t.Context(), provider.MaintenanceState{}); err != nil {
		t.Fatal(err)
	}
	if w, _ := r.Weights(t.Context()); w[provider.Green] != 10 {
		t.Fatalf("after maintenance = %v", w)
	}

	ns = srv.Namespace(t)
	s.Namespace, s.Mode = ns, ModeService
	applyRendered(t, s)
	sr := &ServiceRouter{Clients: clientsAs(t, ns, srv.Config), Settings: s}
	if w, err := sr.Weights(t.Context()); err != nil || w[provider.Blue] != 100 {
		t.Fatalf("rendered Service selects %v, %v", w, err)
	}
	if err := sr.SetWeights(t.Context(), provider.Weights{provider.Green: 100}); err != nil {
		t.Fatal(err)
	}
	svc, _ := srv.Kube.CoreV1().Services(ns).Get(t.Context(), "api", metav1.GetOptions{})
	if svc.Spec.Selector["slot"] != "green" || svc.Spec.Selector["app"] != "api" {
		t.Fatalf("selector = %v", svc.Spec.Selector)
	}
}
