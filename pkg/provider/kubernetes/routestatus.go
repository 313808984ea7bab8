package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/timeutil"
)

// DefaultStatusTimeout bounds the wait for the Gateway controllers to
// confirm a route change (traffic.kubernetes.status_timeout).
const DefaultStatusTimeout = 30 * time.Second

// statusPoll is how often the route's status is read while waiting.
const statusPoll = 250 * time.Millisecond

func (r *Router) statusTimeout() time.Duration {
	if r.Settings.StatusTimeout > 0 {
		return r.Settings.StatusTimeout
	}
	return DefaultStatusTimeout
}

func (r *Router) notef(format string, a ...any) {
	if r.Notef != nil {
		r.Notef(format, a...)
	}
}

// confirm waits until every parent (Gateway) in the route's status.parents
// reports Accepted and ResolvedRefs True for the generation written (out):
// only then does the data plane carry the weights. A controller reporting
// either False, or no confirmation within the status timeout, puts the
// previous weights back and fails. A route no controller ever wrote a
// status for is stored with a warning: there is nobody to wait for.
func (r *Router) confirm(ctx context.Context, out *unstructured.Unstructured, prev provider.Weights) error {
	if len(routeParents(out)) == 0 {
		r.notef("warning: no Gateway controller has ever written the status of %s, so none confirmed the change; check that its parentRefs name a Gateway that a controller serves", r.route())
		return nil
	}
	gen := out.GetGeneration()
	wctx, cancel := context.WithTimeout(ctx, r.statusTimeout())
	defer cancel()
	last := "no parent has reported on it yet"
	for {
		u, err := r.get(wctx)
		if err == nil {
			var done bool
			done, last, err = parentsConfirm(u, gen)
			if done {
				return nil
			}
		}
		if err == nil && wctx.Err() == nil {
			err = timeutil.Sleep(wctx, statusPoll)
		}
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: the new weights are stored but no controller confirmed them yet: %w", r.route(), ctx.Err())
		}
		var refused *refusedError
		if !errors.As(err, &refused) {
			if !errors.Is(err, context.DeadlineExceeded) {
				return err // the API failed us: the weights stay, unconfirmed
			}
			err = fmt.Errorf("no Gateway controller confirmed generation %d of %s within %s (%s); raise traffic.kubernetes.status_timeout if the controller is just slow, or check it",
				gen, r.route(), r.statusTimeout(), last)
		}
		return r.putBack(ctx, prev, err)
	}
}

// putBack restores the weights that were there before a change the
// controllers refused, and says so.
func (r *Router) putBack(ctx context.Context, prev provider.Weights, cause error) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_, err := r.modify(rctx, func(u *unstructured.Unstructured) error {
		return r.editRules(u, func(refs []any, ns string) ([]any, error) { return r.setSlotWeights(refs, ns, prev), nil })
	})
	if err != nil {
		return fmt.Errorf("%v; putting the previous weights (blue %d, green %d) back failed too: %w", cause, prev[provider.Blue], prev[provider.Green], err)
	}
	return fmt.Errorf("%v; the previous weights (blue %d, green %d) were put back", cause, prev[provider.Blue], prev[provider.Green])
}

// refusedError is a controller reporting a condition False.
type refusedError struct{ msg string }

func (e *refusedError) Error() string { return e.msg }

func routeParents(u *unstructured.Unstructured) []any {
	parents, _, _ := unstructured.NestedSlice(u.Object, "status", "parents")
	return parents
}

// parentsConfirm reports whether every parent confirmed generation gen; a
// parent reporting Accepted or ResolvedRefs False for it is a
// *refusedError. pending describes what is still awaited.
func parentsConfirm(u *unstructured.Unstructured, gen int64) (done bool, pending string, err error) {
	parents := routeParents(u)
	if len(parents) == 0 {
		return false, "status.parents is empty", nil
	}
	var waiting []string
	for _, p := range parents {
		pm, _ := p.(map[string]any)
		who := parentName(pm)
		conds, _, _ := unstructured.NestedSlice(pm, "conditions")
		for _, typ := range []string{"Accepted", "ResolvedRefs"} {
			c := findCondition(conds, typ)
			og, _, _ := unstructured.NestedInt64(c, "observedGeneration")
			status, _, _ := unstructured.NestedString(c, "status")
			switch {
			case c == nil || og < gen:
				waiting = append(waiting, fmt.Sprintf("%s has not reported %s for it", who, typ))
			case status == "True":
			case status == "False":
				reason, _, _ := unstructured.NestedString(c, "reason")
				msg, _, _ := unstructured.NestedString(c, "message")
				return false, "", &refusedError{fmt.Sprintf("HTTPRoute %s/%s: %s reports %s=False (reason %s: %s) for generation %d; fix the route (kubectl -n %s describe httproute %s)",
					u.GetNamespace(), u.GetName(), who, typ, reason, msg, og, u.GetNamespace(), u.GetName())}
			default:
				waiting = append(waiting, fmt.Sprintf("%s reports %s=%s", who, typ, status))
			}
		}
	}
	return len(waiting) == 0, strings.Join(waiting, "; "), nil
}

func findCondition(conds []any, typ string) map[string]any {
	for _, c := range conds {
		if cm, ok := c.(map[string]any); ok && cm["type"] == typ {
			return cm
		}
	}
	return nil
}

// parentName is "controller example.com/gw for Gateway infra/public".
func parentName(p map[string]any) string {
	ctrl, _, _ := unstructured.NestedString(p, "controllerName")
	kind, _, _ := unstructured.NestedString(p, "parentRef", "kind")
	ns, _, _ := unstructured.NestedString(p, "parentRef", "namespace")
	name, _, _ := unstructured.NestedString(p, "parentRef", "name")
	section, _, _ := unstructured.NestedString(p, "parentRef", "sectionName")
	if kind == "" {
		kind = "Gateway"
	}
	if ns != "" {
		name = ns + "/" + name
	}
	if section != "" {
		name += " (listener " + section + ")"
	}
	return fmt.Sprintf("controller %s for %s %s", ctrl, kind, name)
}
