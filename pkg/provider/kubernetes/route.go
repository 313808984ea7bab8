package kubernetes

import (
	"context"
	"fmt"
	"math"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"

	"github.com/deployctl/deployctl/pkg/provider"
)

// HTTPRouteGVR is the Gateway API HTTPRoute resource.
var HTTPRouteGVR = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}

// Router shifts traffic by the weights of the HTTPRoute's backendRefs that
// point at the two slot Services. It works on the route as unstructured
// data and writes back exactly what it read, except those two weights: other
// rules, matches, filters, backends and fields this version of deployctl
// does not know stay as they were.
type Router struct {
	Clients  *Clients
	Settings Settings
	// beforeWrite runs between the read and the write (tests use it to make
	// somebody else change the route meanwhile).
	beforeWrite func()
	Notef       func(format string, a ...any) // progress for the operator
}

var _ provider.TrafficRouter = (*Router)(nil)

// conflictBackoff retries a write that lost a race with another writer.
var conflictBackoff = wait.Backoff{Steps: 12, Duration: 10 * time.Millisecond, Factor: 1.5, Jitter: 0.5}

func (r *Router) route() object {
	return object{Kind: "HTTPRoute", Namespace: r.Clients.Namespace, Name: r.Settings.Route}
}

func (r *Router) get(ctx context.Context) (*unstructured.Unstructured, error) {
	u, err := r.Clients.Dynamic.Resource(HTTPRouteGVR).Namespace(r.Clients.Namespace).Get(ctx, r.Settings.Route, metav1.GetOptions{})
	return u, r.Clients.explain(err, "read", r.route())
}

// modify reads the route, lets fn change it, and writes it with the
// resourceVersion it read (optimistic concurrency), retrying from a fresh
// read when somebody else wrote in between. It returns the route as stored.
func (r *Router) modify(ctx context.Context, fn func(u *unstructured.Unstructured) error) (*unstructured.Unstructured, error) {
	var out *unstructured.Unstructured
	err := retry.RetryOnConflict(conflictBackoff, func() error {
		u, err := r.Clients.Dynamic.Resource(HTTPRouteGVR).Namespace(r.Clients.Namespace).Get(ctx, r.Settings.Route, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if err := fn(u); err != nil {
			return err
		}
		if r.beforeWrite != nil {
			r.beforeWrite()
		}
		out, err = r.Clients.Dynamic.Resource(HTTPRouteGVR).Namespace(r.Clients.Namespace).Update(ctx, u, metav1.UpdateOptions{FieldManager: "deployctl"})
		return err
	})
	if _, ok := err.(*ruleError); ok {
		return nil, err
	}
	return out, r.Clients.explain(err, "update", r.route())
}

// Weights reads the weights from the route. During maintenance they are the
// weights that maintenance off puts back.
func (r *Router) Weights(ctx context.Context) (provider.Weights, error) {
	u, err := r.get(ctx)
	if err != nil {
		return nil, err
	}
	if m, ok, err := maintenanceOf(u); err != nil || ok {
		return m.State.Restore, err
	}
	return r.weightsOf(u)
}

// SetWeights writes w into every rule that forwards to the slot Services,
// checks the stored route carries them, and waits until the Gateway
// controllers confirm the new generation (see confirm).
func (r *Router) SetWeights(ctx context.Context, w provider.Weights) error {
	if err := w.Validate(); err != nil {
		return err
	}
	var prev provider.Weights
	out, err := r.modify(ctx, func(u *unstructured.Unstructured) error {
		if _, on, _ := maintenanceOf(u); on {
			return &ruleError{fmt.Sprintf("%s is in maintenance; run `deployctl maintenance off` first (it restores the weights)", r.route())}
		}
		var err error
		if prev, err = r.weightsOf(u); err != nil {
			return err
		}
		return r.editRules(u, func(refs []any, ns string) ([]any, error) { return r.setSlotWeights(refs, ns, w), nil })
	})
	if err != nil {
		return err
	}
	got, err := r.weightsOf(out)
	if err != nil {
		return err
	}
	if got[provider.Blue] != w[provider.Blue] || got[provider.Green] != w[provider.Green] {
		return fmt.Errorf("%s stored weights blue %d, green %d instead of blue %d, green %d; check for an admission webhook or controller rewriting it",
			r.route(), got[provider.Blue], got[provider.Green], w[provider.Blue], w[provider.Green])
	}
	return r.confirm(ctx, out, prev)
}

// Slot reports the readiness and image of the slot's Deployment.
func (r *Router) Slot(ctx context.Context, s provider.Slot) (provider.SlotStatus, error) {
	return slotStatus(ctx, r.Clients, r.Settings, s)
}

// SetImage changes the image of the slot's Deployment and waits until the
// slot is ready on it (up to ctx's deadline, else DefaultImageTimeout).
func (r *Router) SetImage(ctx context.Context, s provider.Slot, image string) error {
	return deployImage(ctx, r.Clients, r.Settings, s, image, r.Notef)
}

// ruleError is a refusal decided from the route's content: not retried,
// not explained as an API error.
type ruleError struct{ msg string }

func (e *ruleError) Error() string { return e.msg }

// weightsOf reads the weights of the first rule that forwards to a slot.
func (r *Router) weightsOf(u *unstructured.Unstructured) (provider.Weights, error) {
	rules, _, _ := unstructured.NestedSlice(u.Object, "spec", "rules")
	for _, rule := range rules {
		refs := backendRefs(rule)
		var raw [2]int64
		found := false
		for _, ref := range refs {
			if sl, ok := r.slotOf(ref, u.GetNamespace()); ok {
				raw[slotIndex(sl)] += weightOf(ref)
				found = true
			}
		}
		if found {
			return percent(raw[0], raw[1]), nil
		}
	}
	return nil, r.noRule()
}

func (r *Router) noRule() error {
	return &ruleError{fmt.Sprintf("%s has no rule forwarding to Service %s or %s; add a backendRef to each (deployctl render shows the route)",
		r.route(), r.Settings.Slots.Blue.Service, r.Settings.Slots.Green.Service)}
}

// percent turns raw backendRef weights into shares that sum to 100.
func percent(b, g int64) provider.Weights {
	if b+g == 0 {
		return provider.Weights{provider.Blue: 0, provider.Green: 0}
	}
	bp := int(math.Round(float64(b) * 100 / float64(b+g)))
	return provider.Weights{provider.Blue: bp, provider.Green: 100 - bp}
}

func slotIndex(s provider.Slot) int {
	if s == provider.Green {
		return 1
	}
	return 0
}
