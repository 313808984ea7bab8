package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/deployctl/deployctl/pkg/provider"
)

func deploymentObj(c *Clients, s Settings, slot provider.Slot) object {
	return object{Kind: "Deployment", Namespace: c.Namespace, Name: s.Slots.Of(slot).Deployment}
}

// slotStatus reads the slot's Deployment. The slot is ready when the
// Deployment controller has observed the current spec and every desired
// replica (at least one) is updated and available, with no old replica
// left.
func slotStatus(ctx context.Context, c *Clients, s Settings, slot provider.Slot) (provider.SlotStatus, error) {
	st, _, err := slotState(ctx, c, s, slot)
	return st, err
}

// slotState is slotStatus, plus whether the Deployment controller gave up
// on the rollout, which waiting cannot fix (then Detail says why).
func slotState(ctx context.Context, c *Clients, s Settings, slot provider.Slot) (st provider.SlotStatus, failed bool, err error) {
	d, err := c.Kube.AppsV1().Deployments(c.Namespace).Get(ctx, s.Slots.Of(slot).Deployment, metav1.GetOptions{})
	if err != nil {
		return provider.SlotStatus{Slot: slot}, false, c.explain(err, "read", deploymentObj(c, s, slot))
	}
	ready, detail := readiness(d)
	if msg, ok := progressFailed(d); ok {
		ready, detail, failed = false, msg, true
	}
	return provider.SlotStatus{Slot: slot, Ready: ready, Version: image(d), Detail: detail}, failed, nil
}

func readiness(d *appsv1.Deployment) (bool, string) {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	st := d.Status
	counts := fmt.Sprintf("%d/%d updated, %d/%d available", st.UpdatedReplicas, want, st.AvailableReplicas, want)
	switch {
	case want == 0:
		return false, fmt.Sprintf("0 replicas desired; scale it up (kubectl -n %s scale deployment %s --replicas=2) before sending it traffic", d.Namespace, d.Name)
	case st.ObservedGeneration < d.Generation:
		return false, fmt.Sprintf("the Deployment controller has not yet observed generation %d (at %d); %s", d.Generation, st.ObservedGeneration, counts)
	case st.UpdatedReplicas < want || st.AvailableReplicas < want:
		return false, counts
	case st.Replicas > want:
		return false, fmt.Sprintf("%s, %d old replicas terminating", counts, st.Replicas-want)
	}
	return true, counts
}

// progressFailed reports a rollout the Deployment controller gave up on
// (Progressing=False, reason ProgressDeadlineExceeded) for the current
// generation, as `kubectl rollout status` does.
func progressFailed(d *appsv1.Deployment) (string, bool) {
	if d.Status.ObservedGeneration < d.Generation {
		return "", false // the condition is about an older spec
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded" {
			return fmt.Sprintf("progress deadline exceeded: %s", c.Message), true
		}
	}
	return "", false
}

// image is what the slot runs: its first container's image.
func image(d *appsv1.Deployment) string {
	if cs := d.Spec.Template.Spec.Containers; len(cs) > 0 {
		return cs[0].Image
	}
	return ""
}

// DefaultImageTimeout bounds the wait for a new image's readiness when the
// caller set no deadline (rollout --timeout's default).
const DefaultImageTimeout = 5 * time.Minute

// imagePoll is how often the Deployment is read while waiting: reads only,
// so the Role needs no watch permission.
const imagePoll = 250 * time.Millisecond

// deployImage sets the slot's image and waits until the slot is ready on
// it, reporting progress through notef; a slot that does not get ready in
// time is an error, so the caller shifts no traffic to it.
func deployImage(ctx context.Context, c *Clients, s Settings, slot provider.Slot, img string, notef func(string, ...any)) error {
	if err := setImage(ctx, c, s, slot, img); err != nil {
		return err
	}
	if notef == nil {
		notef = func(string, ...any) {}
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultImageTimeout)
		defer cancel()
	}
	last := ""
	for {
		st, failed, err := slotState(ctx, c, s, slot)
		if err != nil {
			return err
		}
		if failed {
			return fmt.Errorf("%s failed to roll out on %s: %s; no traffic was shifted to it: check its pods (kubectl -n %s describe deployment %s), fix the image or manifest and run the rollout again",
				deploymentObj(c, s, slot), img, st.Detail, c.Namespace, s.Slots.Of(slot).Deployment)
		}
		if st.Ready && st.Version == img {
			notef("%s is ready on %s (%s)", slot, img, st.Detail)
			return nil
		}
		if st.Detail != last {
			notef("waiting for %s on %s: %s", slot, img, st.Detail)
			last = st.Detail
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%s did not get ready on %s in time (%s); no traffic was shifted to it: check its pods (kubectl -n %s describe deployment %s), or raise --timeout",
					deploymentObj(c, s, slot), img, st.Detail, c.Namespace, s.Slots.Of(slot).Deployment)
			}
			return ctx.Err()
		case <-time.After(imagePoll):
		}
	}
}

// setImage sets the image of the Deployment's first container (the
// application; sidecars come after it in the rendered manifests).
func setImage(ctx context.Context, c *Clients, s Settings, slot provider.Slot, img string) error {
	name := s.Slots.Of(slot).Deployment
	deps := c.Kube.AppsV1().Deployments(c.Namespace)
	err := retry.RetryOnConflict(conflictBackoff, func() error {
		d, err := deps.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(d.Spec.Template.Spec.Containers) == 0 {
			return fmt.Errorf("%s has no container", deploymentObj(c, s, slot))
		}
		if d.Spec.Template.Spec.Containers[0].Image == img {
			return nil
		}
		d.Spec.Template.Spec.Containers[0].Image = img
		_, err = deps.Update(ctx, d, metav1.UpdateOptions{FieldManager: "deployctl"})
		return err
	})
	return c.explain(err, "update", deploymentObj(c, s, slot))
}
