package kubernetes

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/deployctl/deployctl/pkg/maintenance/page"
	"github.com/deployctl/deployctl/pkg/provider"
)

// PageAnnotation on the maintenance Deployment's pod template is the hash
// of the page deployctl published: changing it rolls the maintenance pod,
// so nginx serves the new page and Retry-After at once.
const PageAnnotation = "deployctl.dev/maintenance-page"

// Keys of the maintenance ConfigMap (templates/kubernetes/maintenance.yaml)
// that deployctl rewrites on every `maintenance on`.
const (
	pageHTMLKey    = "maintenance.html"
	pageJSONKey    = "maintenance.json"
	pageHeadersKey = "headers.conf"
)

// pageFiles renders the maintenance page for st as the local provider's
// page does (the same template and JSON body). Retry-After is the end of
// the window as an HTTP date, which stays right however long nginx serves
// it, or page.DefaultRetryAfter for open-ended maintenance.
func pageFiles(st provider.MaintenanceState, now time.Time) (map[string]string, error) {
	d := page.Data{Message: st.Message, RetryAfter: int(page.DefaultRetryAfter / time.Second)}
	retryAfter := fmt.Sprint(d.RetryAfter)
	if !st.Until.IsZero() {
		d.Until = st.Until.UTC().Format("Mon, 02 Jan 2006 15:04 MST")
		d.UntilISO = st.Until.UTC().Format(time.RFC3339)
		d.RetryAfter = max(1, int(math.Ceil(st.Until.Sub(now).Seconds())))
		retryAfter = `"` + st.Until.UTC().Format(http.TimeFormat) + `"`
	}
	if !st.Since.IsZero() {
		d.Since = st.Since.UTC().Format(time.RFC3339)
	}
	t, err := template.New("maintenance").Parse(page.DefaultTemplate)
	if err != nil {
		return nil, err
	}
	var html bytes.Buffer
	if err := t.Execute(&html, d); err != nil {
		return nil, err
	}
	body, err := json.Marshal(map[string]any{"error": "maintenance", "message": d.Message, "until": d.UntilISO, "since": d.Since, "retry_after": d.RetryAfter})
	if err != nil {
		return nil, err
	}
	return map[string]string{
		pageHTMLKey:    html.String(),
		pageJSONKey:    string(body) + "\n",
		pageHeadersKey: "add_header Retry-After " + retryAfter + " always;\nadd_header Cache-Control no-store always;\n",
	}, nil
}

// publishPage writes the page for st into the maintenance backend's
// ConfigMap and rolls its Deployment (both named maintenance_service, as
// deployctl render writes them). Maintenance must not wait on its page: a
// backend deployctl cannot update only gets a warning.
func (m *Maintenance) publishPage(ctx context.Context, st provider.MaintenanceState) {
	name := m.Router.Settings.MaintenanceService
	c := m.Router.Clients
	files, err := pageFiles(st, time.Now())
	if err == nil {
		err = m.writePage(ctx, files)
	}
	if err != nil {
		m.Router.notef("warning: the maintenance page was not updated (%v); the maintenance backend %s shows what it showed before: render and apply its manifests (deployctl render) or update ConfigMap %s/%s by hand",
			err, name, c.Namespace, name)
	}
}

func (m *Maintenance) writePage(ctx context.Context, files map[string]string) error {
	name := m.Router.Settings.MaintenanceService
	c := m.Router.Clients
	cm := object{Kind: "ConfigMap", Namespace: c.Namespace, Name: name}
	err := retry.RetryOnConflict(conflictBackoff, func() error {
		cur, err := c.Kube.CoreV1().ConfigMaps(c.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cur.Data == nil {
			cur.Data = map[string]string{}
		}
		for k, v := range files {
			cur.Data[k] = v
		}
		_, err = c.Kube.CoreV1().ConfigMaps(c.Namespace).Update(ctx, cur, metav1.UpdateOptions{FieldManager: "deployctl"})
		return err
	})
	if err != nil {
		return c.explain(err, "update", cm)
	}
	sum := sha256.Sum256([]byte(files[pageHTMLKey] + files[pageJSONKey] + files[pageHeadersKey]))
	hash := hex.EncodeToString(sum[:8])
	dep := object{Kind: "Deployment", Namespace: c.Namespace, Name: name}
	err = retry.RetryOnConflict(conflictBackoff, func() error {
		d, err := c.Kube.AppsV1().Deployments(c.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if d.Spec.Template.Annotations[PageAnnotation] == hash {
			return nil
		}
		if d.Spec.Template.Annotations == nil {
			d.Spec.Template.Annotations = map[string]string{}
		}
		d.Spec.Template.Annotations[PageAnnotation] = hash
		_, err = c.Kube.AppsV1().Deployments(c.Namespace).Update(ctx, d, metav1.UpdateOptions{FieldManager: "deployctl"})
		return err
	})
	return c.explain(err, "update", dep)
}
