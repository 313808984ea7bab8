package kubernetes

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/deployctl/deployctl/pkg/provider"
)

// backendRefs returns a rule's backendRefs (nil when it has none).
func backendRefs(rule any) []any {
	m, ok := rule.(map[string]any)
	if !ok {
		return nil
	}
	refs, _ := m["backendRefs"].([]any)
	return refs
}

// refersTo reports whether ref is the Service name in the route's namespace.
func refersTo(ref any, name, routeNS string) bool {
	m, ok := ref.(map[string]any)
	if !ok || name == "" {
		return false
	}
	group, _ := m["group"].(string)
	kind, _ := m["kind"].(string)
	ns, _ := m["namespace"].(string)
	n, _ := m["name"].(string)
	return n == name && group == "" && (kind == "" || kind == "Service") && (ns == "" || ns == routeNS)
}

func (r *Router) slotOf(ref any, routeNS string) (provider.Slot, bool) {
	for _, s := range provider.Slots {
		if refersTo(ref, r.Settings.Slots.Of(s).Service, routeNS) {
			return s, true
		}
	}
	return "", false
}

// weightOf is a backendRef's weight; Gateway API defaults it to 1.
func weightOf(ref any) int64 {
	m, _ := ref.(map[string]any)
	switch w := m["weight"].(type) {
	case int64:
		return w
	case float64:
		return int64(w)
	case nil:
		return 1
	}
	return 0
}

// editRules calls fn with the backendRefs of every rule that forwards to a
// slot Service and stores what it returns; other rules are left alone.
func (r *Router) editRules(u *unstructured.Unstructured, fn func(refs []any, ns string) ([]any, error)) error {
	rules, _, _ := unstructured.NestedSlice(u.Object, "spec", "rules")
	touched := false
	for i, rule := range rules {
		refs := backendRefs(rule)
		if !r.hasSlot(refs, u.GetNamespace()) {
			continue
		}
		out, err := fn(refs, u.GetNamespace())
		if err != nil {
			return err
		}
		rule.(map[string]any)["backendRefs"] = out
		rules[i] = rule
		touched = true
	}
	if !touched {
		return r.noRule()
	}
	return unstructured.SetNestedSlice(u.Object, rules, "spec", "rules")
}

func (r *Router) hasSlot(refs []any, ns string) bool {
	for _, ref := range refs {
		if _, ok := r.slotOf(ref, ns); ok {
			return true
		}
	}
	return false
}

// setSlotWeights sets the weight of each slot's backendRef. A slot missing
// from the rule is added as a copy of the other slot's backendRef (port,
// filters) under its own Service name, right after it.
func (r *Router) setSlotWeights(refs []any, ns string, w provider.Weights) []any {
	seen := map[provider.Slot]bool{}
	out := append([]any(nil), refs...)
	for _, ref := range out {
		if s, ok := r.slotOf(ref, ns); ok {
			ref.(map[string]any)["weight"] = int64(w[s])
			seen[s] = true
		}
	}
	for _, s := range provider.Slots {
		if seen[s] {
			continue
		}
		for i, ref := range out {
			if _, ok := r.slotOf(ref, ns); ok {
				c := (&unstructured.Unstructured{Object: ref.(map[string]any)}).DeepCopy().Object
				c["name"] = r.Settings.Slots.Of(s).Service
				c["weight"] = int64(w[s])
				out = append(out[:i+1], append([]any{c}, out[i+1:]...)...)
				break
			}
		}
	}
	return out
}
