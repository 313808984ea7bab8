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

// Maintenance points the route's slot rules at the maintenance Service.
type Maintenance struct {
	Router *Router
}

var _ provider.MaintenanceSwitch = (*Maintenance)(nil)

// maintenanceRecord is the annotation's content.
type maintenanceRecord struct {
	State provider.MaintenanceState `json:"state"`
	Rules []savedRule               `json:"rules"`
}

// savedRule holds the slot backendRefs taken out of rule Index, verbatim.
type savedRule struct {
	Index int   `json:"index"`
	Refs  []any `json:"refs"`
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
// back exactly as they were). One write; it returns once stored.
func (m *Maintenance) SetMaintenance(ctx context.Context, st provider.MaintenanceState) error {
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
	for i, rule := range rules {
		refs := backendRefs(rule)
		if !m.Router.hasSlot(refs, u.GetNamespace()) {
			continue
		}
		saved, kept := m.split(refs, u.GetNamespace())
		rec.Rules = append(rec.Rules, savedRule{Index: i, Refs: saved})
		rule.(map[string]any)["backendRefs"] = kept
	}
	if err := unstructured.SetNestedSlice(u.Object, rules, "spec", "rules"); err != nil {
		return err
	}
	return setRecord(u, &rec)
}

// split takes the slot backendRefs out of refs and puts one backendRef to
// the maintenance Service (on the first slot's port) where the first was.
// Backends that are not the slots' stay: they are not deployctl's.
func (m *Maintenance) split(refs []any, ns string) (saved, kept []any) {
	for _, ref := range refs {
		if _, ok := m.Router.slotOf(ref, ns); !ok {
			kept = append(kept, ref)
			continue
		}
		if len(saved) == 0 {
			mr := map[string]any{"name": m.Router.Settings.MaintenanceService}
			if port, ok := ref.(map[string]any)["port"]; ok {
				mr["port"] = port
			}
			kept = append(kept, mr)
		}
		saved = append(saved, ref)
	}
	return saved, kept
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
		found := false
		for _, ref := range refs {
			if !found && refersTo(ref, m.Router.Settings.MaintenanceService, u.GetNamespace()) {
				out = append(out, sr.Refs...)
				found = true
				continue
			}
			out = append(out, ref)
		}
		if !found {
			return m.lost(u)
		}
		rule["backendRefs"] = out
	}
	if err := unstructured.SetNestedSlice(u.Object, rules, "spec", "rules"); err != nil {
		return err
	}
	ann := u.GetAnnotations()
	delete(ann, MaintenanceAnnotation)
	u.SetAnnotations(ann)
	return nil
}

func (m *Maintenance) lost(u *unstructured.Unstructured) error {
	return &ruleError{fmt.Sprintf("HTTPRoute %s/%s was changed during maintenance: a rule no longer forwards to Service %s where deployctl put it; restore the backendRefs from annotation %s by hand and remove the annotation",
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
