package kubernetes

import (
	"context"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/deployctl/deployctl/pkg/provider"
)

// RotatedAnnotationPrefix prefixes the Secret annotation that records when
// a variable was last rotated: rotated.deployctl.dev/JWT_SECRET.
const RotatedAnnotationPrefix = "rotated.deployctl.dev/"

// RestartedAtAnnotation is the pod template annotation `kubectl rollout
// restart` sets; changing it rolls the Deployment's pods.
const RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"

var (
	_ provider.VariableWriter = (*Variables)(nil)
	_ provider.RotationTimes  = (*Variables)(nil)
	_ provider.SlotRestarter  = (*Router)(nil)
	_ provider.SlotRestarter  = (*ServiceRouter)(nil)
)

func (v *Variables) secretObj() object {
	return object{Kind: "Secret", Namespace: v.Clients.Namespace, Name: v.Settings.Secret}
}

// Where names the Secret for people.
func (v *Variables) Where() string {
	if v.Settings.Secret == "" {
		return "Kubernetes ConfigMap " + v.Clients.Namespace + "/" + v.Settings.ConfigMap
	}
	return "Kubernetes " + v.secretObj().String()
}

// Writable: variables are written to the source's Secret (which wins over
// its ConfigMap, as in envFrom); a source without one is read-only.
func (v *Variables) Writable([]string) error {
	if v.Settings.Secret == "" {
		return fmt.Errorf("this kubernetes source reads the ConfigMap %s only: writing a secret there is %w; add `secret: NAME` to the source and reference that Secret in the Deployments' envFrom", v.Settings.ConfigMap, provider.ErrUnsupported)
	}
	return nil
}

// WriteVariables sets w's keys in the Secret in one update (conditional on
// the resourceVersion read, retried on a conflict), and records the
// rotation times as annotations. A failed update leaves the Secret as it was.
func (v *Variables) WriteVariables(ctx context.Context, w provider.VariableWrite) error {
	if err := v.Writable(nil); err != nil {
		return err
	}
	secrets := v.Clients.Kube.CoreV1().Secrets(v.Clients.Namespace)
	err := retry.RetryOnConflict(conflictBackoff, func() error {
		sec, err := secrets.Get(ctx, v.Settings.Secret, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if sec.Data == nil {
			sec.Data = map[string][]byte{}
		}
		for k, val := range w.Set {
			sec.Data[k] = []byte(val)
		}
		if len(w.Rotated) > 0 && sec.Annotations == nil {
			sec.Annotations = map[string]string{}
		}
		for _, name := range w.Rotated {
			sec.Annotations[RotatedAnnotationPrefix+name] = w.At.UTC().Format(time.RFC3339)
		}
		_, err = secrets.Update(ctx, sec, metav1.UpdateOptions{FieldManager: "deployctl"})
		return err
	})
	if err != nil {
		return fmt.Errorf("%w; the Secret was not changed and keeps the old values", v.Clients.explain(err, "update", v.secretObj()))
	}
	return nil
}

// RotatedAt reads the rotation annotations of the Secret.
func (v *Variables) RotatedAt(ctx context.Context) (map[string]time.Time, error) {
	if v.Settings.Secret == "" {
		return nil, nil
	}
	sec, err := v.Clients.Kube.CoreV1().Secrets(v.Clients.Namespace).Get(ctx, v.Settings.Secret, metav1.GetOptions{})
	if err = v.missing(err, v.secretObj()); err != nil || sec == nil {
		return nil, err
	}
	out := map[string]time.Time{}
	for k, val := range sec.Annotations {
		if name, ok := strings.CutPrefix(k, RotatedAnnotationPrefix); ok {
			if t, err := time.Parse(time.RFC3339, val); err == nil {
				out[name] = t
			}
		}
	}
	return out, nil
}

// RestartSlots rolls both slot Deployments, as kubectl rollout restart.
func (r *Router) RestartSlots(ctx context.Context, at time.Time) ([]string, error) {
	return restartSlots(ctx, r.Clients, r.Settings, at)
}

// RestartSlots rolls both slot Deployments, as kubectl rollout restart.
func (r *ServiceRouter) RestartSlots(ctx context.Context, at time.Time) ([]string, error) {
	return restartSlots(ctx, r.Clients, r.Settings, at)
}

// restartSlots sets the pod template's restartedAt annotation of both slot
// Deployments (get and update, the verbs the documented Role grants).
func restartSlots(ctx context.Context, c *Clients, s Settings, at time.Time) ([]string, error) {
	stamp := at.UTC().Format(time.RFC3339)
	deps := c.Kube.AppsV1().Deployments(c.Namespace)
	var done []string
	for _, slot := range provider.Slots {
		name := s.Slots.Of(slot).Deployment
		err := retry.RetryOnConflict(conflictBackoff, func() error {
			d, err := deps.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if d.Spec.Template.Annotations == nil {
				d.Spec.Template.Annotations = map[string]string{}
			}
			d.Spec.Template.Annotations[RestartedAtAnnotation] = stamp
			_, err = deps.Update(ctx, d, metav1.UpdateOptions{FieldManager: "deployctl"})
			return err
		})
		if err != nil {
			return done, c.explain(err, "update", deploymentObj(c, s, slot))
		}
		done = append(done, "deployment/"+name)
	}
	return done, nil
}
