package kubernetes

import (
	"context"
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/deployctl/deployctl/pkg/provider"
)

// MaintenanceAnnotation on the HTTPRoute remembers, while maintenance is on,
// the switch's state and the slot backendRefs it replaced, so that off puts
// back exactly what was there, whichever machine runs it.
const MaintenanceAnnotation = "deployctl.dev/maintenance"

// Maintenance points the route's slot rules at the maintenance Service,
// with all of their weight: the rule's other backends get weight 0 (and
// theirs back afterwards). The app's health paths keep reaching the active
// slot through a rule of their own, and the maintenance page says what the
// current state says (see publishPage).
type Maintenance struct {
	Router *Router
	// HealthPaths are the paths that bypass the maintenance backend (the
	// environment's health and readiness paths); empty: none.
	HealthPaths []string
}

var _ provider.MaintenanceSwitch = (*Maintenance)(nil)

// maintenanceRecord is the annotation's content.
type maintenanceRecord struct {
	State provider.MaintenanceState `json:"state"`
	Rules []savedRule               `json:"rules"`
	// Health is the rule added for the health paths, which off removes.
	Health *addedRule `json:"health,omitempty"`
}

// savedRule holds the slot backendRefs taken out of rule Index, verbatim,
// and the rule's other backendRefs as they were before their weight was
// set to 0.
type savedRule struct {
	Index  int   `json:"index"`
	Refs   []any `json:"refs"`
	Others []any `json:"others,omitempty"`
}

// addedRule is a rule deployctl appended at Index.
type addedRule struct {
	Index int            `json:"index"`
	Rule  map[string]any `json:"rule"`
}

func maintenanceOf(u *unstructured.Unstructured) (maintenanceRecord, bool, error) {
	var m maintenanceRecord
	raw, ok := u.GetAnnotations()[MaintenanceAnnotation]
	if !ok {
		return m, false, nil
	}
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return m, false, fmt.Errorf("HTTPRoute %s/%s: annotation %s is not deployctl's: %v; remove it by hand", u.GetNamespace(), u.GetName(), MaintenanceAnnotation, err)
	}
	return m, true, nil
}

// Maintenance reports the switch as stored on the route.
func (m *Maintenance) Maintenance(ctx context.Context) (provider.MaintenanceState, error) {
	u, err := m.Router.get(ctx)
	if err != nil {
		return provider.MaintenanceState{}, err
	}
	rec, on, err := maintenanceOf(u)
	if err != nil || !on {
		return provider.MaintenanceState{}, err
	}
	rec.State.On = true
	return rec.State, nil
}

// SetMaintenance turns maintenance on (again: the message and window are
// updated, the remembered backends kept) or off (the remembered backends go
// back exactly as they were). The page is published first, then the route
// changes in one write.
func (m *Maintenance) SetMaintenance(ctx context.Context, st provider.MaintenanceState) error {
	if st.On {
		m.publishPage(ctx, st)
	}
	_, err := m.Router.modify(ctx, func(u *unstructured.Unstructured) error {
		rec, on, err := maintenanceOf(u)
		if err != nil {
			return err
		}
		switch {
		case st.On && on:
			st.Restore = rec.State.Restore
			rec.State = st
			return setRecord(u, &rec)
		case st.On:
			return m.on(u, st)
		case on:
			return m.off(u, rec)
		}
		return nil
	})
	return err
}

func (m *Maintenance) on(u *unstructured.Unstructured, st provider.MaintenanceState) error {
	w, err := m.Router.weightsOf(u)
	if err != nil {
		return err
	}
	st.Restore = w
	rec := maintenanceRecord{State: st}
	rules, _, _ := unstructured.NestedSlice(u.Object, "spec", "rules")
	var health map[string]any
	for i, rule := range rules {
		refs := backendRefs(rule)
		if !m.Router.hasSlot(refs, u.GetNamespace()) {
			continue
		}
		if health == nil {
			health = m.healthRule(rule.(map[string]any), activeSlot(w))
		}
		saved, others, kept := m.split(refs, u.GetNamespace())
		rec.Rules = append(rec.Rules, savedRule{Index: i, Refs: saved, Others: others})
		rule.(map[string]any)["backendRefs"] = kept
	}
	if health != nil {
		rec.Health = &addedRule{Index: len(rules), Rule: deepCopy(health)}
		rules = append(rules, health)
	}
	if err := unstructured.SetNestedSlice(u.Object, rules, "spec", "rules"); err != nil {
		return err
	}
	return setRecord(u, &rec)
}

// activeSlot is the slot with most of the traffic (blue on a tie).
func activeSlot(w provider.Weights) provider.Slot {
	if w[provider.Green] > w[provider.Blue] {
		return provider.Green
	}
	return provider.Blue
}

// healthRule forwards the health paths (Exact matches, which outrank the
// rule's PathPrefix in Gateway API precedence) to the active slot's
// backendRef, keeping the slot rule's header, query and method matches so
// that it catches no request the slot rule would not have. Nil without
// health paths.
func (m *Maintenance) healthRule(slotRule map[string]any, active provider.Slot) map[string]any {
	if len(m.HealthPaths) == 0 {
		return nil
	}
	var ref map[string]any
	for _, r := range backendRefs(slotRule) {
		if s, ok := m.Router.slotOf(r, ""); ok && (ref == nil || s == active) {
			ref = r.(map[string]any)
		}
	}
	ref = deepCopy(ref)
	delete(ref, "weight")
	orig, _ := slotRule["matches"].([]any)
	if len(orig) == 0 {
		orig = []any{map[string]any{}}
	}
	var matches []any
	seen := map[string]bool{}
	for _, p := range m.HealthPaths {
		if p == "" || seen[p] {
			continue
		}
		seen[p] = true
		for _, o := range orig {
			mm := deepCopy(o.(map[string]any))
			mm["path"] = map[string]any{"type": "Exact", "value": p}
			matches = append(matches, mm)
		}
	}
	return map[string]any{"matches": matches, "backendRefs": []any{ref}}
}

func deepCopy(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return (&unstructured.Unstructured{Object: m}).DeepCopy().Object
}

// split takes the slot backendRefs out of refs and puts one backendRef to
// the maintenance Service (on the first slot's port, with an explicit
// weight) where the first was. Backends that are not the slots' stay, as
// they are not deployctl's, but with weight 0 so that the maintenance
// backend gets all the traffic; others keeps them as they were.
func (m *Maintenance) split(refs []any, ns string) (saved, others, kept []any) {
	for _, ref := range refs {
		if _, ok := m.Router.slotOf(ref, ns); !ok {
			others = append(others, deepCopy(ref.(map[string]any)))
			zero := deepCopy(ref.(map[string]any))
			zero["weight"] = int64(0)
			kept = append(kept, zero)
			continue
		}
		if len(saved) == 0 {
			mr := map[string]any{"name": m.Router.Settings.MaintenanceService, "weight": int64(1)}
			if port, ok := ref.(map[string]any)["port"]; ok {
				mr["port"] = port
			}
			kept = append(kept, mr)
		}
		saved = append(saved, ref)
	}
	return saved, others, kept
}

func (m *Maintenance) off(u *unstructured.Unstructured, rec maintenanceRecord) error {
	rules, _, _ := unstructured.NestedSlice(u.Object, "spec", "rules")
	for _, sr := range rec.Rules {
		if sr.Index >= len(rules) {
			return m.lost(u)
		}
		rule := rules[sr.Index].(map[string]any)
		refs := backendRefs(rule)
		var out []any
		found, other := false, 0
		for _, ref := range refs {
			switch {
			case !found && refersTo(ref, m.Router.Settings.MaintenanceService, u.GetNamespace()):
				out = append(out, sr.Refs...)
				found = true
			case sr.Others != nil:
				if other >= len(sr.Others) {
					return m.lost(u)
				}
				out = append(out, sr.Others[other])
				other++
			default:
				out = append(out, ref) // recorded by an older deployctl
			}
		}
		if !found || other != len(sr.Others) {
			return m.lost(u)
		}
		rule["backendRefs"] = out
	}
	if h := rec.Health; h != nil {
		if h.Index >= len(rules) || !sameHealthRule(rules[h.Index], h.Rule) {
			return m.lost(u)
		}
		rules = append(rules[:h.Index], rules[h.Index+1:]...)
	}
	if err := unstructured.SetNestedSlice(u.Object, rules, "spec", "rules"); err != nil {
		return err
	}
	ann := u.GetAnnotations()
	delete(ann, MaintenanceAnnotation)
	u.SetAnnotations(ann)
	return nil
}

// sameHealthRule reports whether rule is still the health rule deployctl
// added: the same path matches and backend names (the API server defaults
// fields such as weight and kind, so the rest is not compared).
func sameHealthRule(rule any, added map[string]any) bool {
	r, _ := rule.(map[string]any)
	return sameJSON(pathsAndNames(r), pathsAndNames(added))
}

func pathsAndNames(rule map[string]any) []string {
	var out []string
	matches, _ := rule["matches"].([]any)
	for _, m := range matches {
		mm, _ := m.(map[string]any)
		p, _ := mm["path"].(map[string]any)
		out = append(out, fmt.Sprintf("path %v %v", p["type"], p["value"]))
	}
	for _, ref := range backendRefs(rule) {
		rm, _ := ref.(map[string]any)
		out = append(out, fmt.Sprintf("backend %v", rm["name"]))
	}
	return out
}

func sameJSON(a, b any) bool {
	ra, errA := json.Marshal(a)
	rb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ra) == string(rb)
}

func (m *Maintenance) lost(u *unstructured.Unstructured) error {
	return &ruleError{fmt.Sprintf("HTTPRoute %s/%s was changed during maintenance: a rule no longer forwards to Service %s where deployctl put it, or its other backends or the health-path rule deployctl added changed; restore the backendRefs from annotation %s by hand and remove the annotation",
		u.GetNamespace(), u.GetName(), m.Router.Settings.MaintenanceService, MaintenanceAnnotation)}
}

func setRecord(u *unstructured.Unstructured, rec *maintenanceRecord) error {
	rec.State.On = true
	raw, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	ann := u.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[MaintenanceAnnotation] = string(raw)
	u.SetAnnotations(ann)
	return nil
}
