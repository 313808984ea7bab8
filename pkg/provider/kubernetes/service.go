package kubernetes

import (
	"context"
	"fmt"
	"maps"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/deployctl/deployctl/pkg/provider"
)

// ServiceRouter switches traffic for clusters without Gateway API: one
// Service (traffic.kubernetes.service) selects the pods of one slot's
// Deployment at a time, so the only weights are 0 and 100.
type ServiceRouter struct {
	Clients  *Clients
	Settings Settings
	Notef    func(format string, a ...any) // progress for the operator
}

var _ provider.TrafficRouter = (*ServiceRouter)(nil)

func (r *ServiceRouter) service() object {
	return object{Kind: "Service", Namespace: r.Clients.Namespace, Name: r.Settings.Service}
}

// slotSelector is the label selector of the slot's Deployment, which the
// Service takes over to send all traffic to that slot.
func (r *ServiceRouter) slotSelector(ctx context.Context, s provider.Slot) (map[string]string, error) {
	name := r.Settings.Slots.Of(s).Deployment
	d, err := r.Clients.Kube.AppsV1().Deployments(r.Clients.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, r.Clients.explain(err, "read", deploymentObj(r.Clients, r.Settings, s))
	}
	if d.Spec.Selector == nil || len(d.Spec.Selector.MatchLabels) == 0 {
		return nil, fmt.Errorf("%s has no matchLabels selector for the Service to use", deploymentObj(r.Clients, r.Settings, s))
	}
	return d.Spec.Selector.MatchLabels, nil
}

// Weights tells which slot's pods the Service selects.
func (r *ServiceRouter) Weights(ctx context.Context) (provider.Weights, error) {
	svc, err := r.Clients.Kube.CoreV1().Services(r.Clients.Namespace).Get(ctx, r.Settings.Service, metav1.GetOptions{})
	if err != nil {
		return nil, r.Clients.explain(err, "read", r.service())
	}
	return r.weightsOf(ctx, svc.Spec.Selector)
}

func (r *ServiceRouter) weightsOf(ctx context.Context, sel map[string]string) (provider.Weights, error) {
	for _, s := range provider.Slots {
		want, err := r.slotSelector(ctx, s)
		if err != nil {
			return nil, err
		}
		if maps.Equal(sel, want) {
			return provider.Weights{s: 100, s.Other(): 0}, nil
		}
	}
	return nil, fmt.Errorf("the selector %v of %s matches neither slot's Deployment; run `deployctl rollout blue --weight 100` to point it at a slot", sel, r.service())
}

// SetWeights points the Service at the slot that gets 100.
func (r *ServiceRouter) SetWeights(ctx context.Context, w provider.Weights) error {
	if err := w.Validate(); err != nil {
		return err
	}
	target := provider.Blue
	switch {
	case w[provider.Green] == 100:
		target = provider.Green
	case w[provider.Blue] != 100:
		return fmt.Errorf("mode service switches the Service %s between slots and cannot split traffic: use --weight 0 or 100, or mode gateway (an HTTPRoute) for weights", r.Settings.Service)
	}
	sel, err := r.slotSelector(ctx, target)
	if err != nil {
		return err
	}
	svcs := r.Clients.Kube.CoreV1().Services(r.Clients.Namespace)
	err = retry.RetryOnConflict(conflictBackoff, func() error {
		svc, err := svcs.Get(ctx, r.Settings.Service, metav1.GetOptions{})
		if err != nil {
			return err
		}
		// Replace, never merge: a merge would keep the other slot's keys.
		svc.Spec.Selector = maps.Clone(sel)
		out, err := svcs.Update(ctx, svc, metav1.UpdateOptions{FieldManager: "deployctl"})
		if err == nil && !maps.Equal(out.Spec.Selector, sel) {
			return fmt.Errorf("%s stored selector %v instead of %v", r.service(), out.Spec.Selector, sel)
		}
		return err
	})
	return r.Clients.explain(err, "update", r.service())
}

// Slot reports the readiness and image of the slot's Deployment.
func (r *ServiceRouter) Slot(ctx context.Context, s provider.Slot) (provider.SlotStatus, error) {
	return slotStatus(ctx, r.Clients, r.Settings, s)
}

// SetImage changes the image of the slot's Deployment and waits until the
// slot is ready on it (up to ctx's deadline, else DefaultImageTimeout).
func (r *ServiceRouter) SetImage(ctx context.Context, s provider.Slot, image string) error {
	return deployImage(ctx, r.Clients, r.Settings, s, image, r.Notef)
}
