package kubernetes

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deployctl/deployctl/pkg/provider"
)

func TestSlotReadinessFollowsDeploymentStatus(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	r := &Router{Clients: e.c, Settings: e.s}
	st, err := r.Slot(ctx, provider.Green)
	if err != nil || st.Ready || st.Version != "example/api:1.0" {
		t.Fatalf("fresh slot = %+v, %v; want not ready, image example/api:1.0", st, err)
	}
	srv.SetStatus(t, e.ns, "api-green", func(d *appsv1.Deployment) {
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 1, AvailableReplicas: 1}
	})
	if st, _ = r.Slot(ctx, provider.Green); st.Ready || st.Detail != "2/2 updated, 1/2 available" {
		t.Fatalf("half available = %+v", st)
	}
	srv.MarkReady(t, e.ns, "api-green")
	if st, _ = r.Slot(ctx, provider.Green); !st.Ready {
		t.Fatalf("all available = %+v", st)
	}
}

func TestSetImageWaitsForReadiness(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	srv.MarkReady(t, e.ns, "api-green")
	var notes []string
	r := &Router{Clients: e.c, Settings: e.s, Notef: func(format string, a ...any) { notes = append(notes, fmt.Sprintf(format, a...)) }}
	done := make(chan error, 1)
	go func() { done <- r.SetImage(ctx, provider.Green, "example/api:2.0") }()
	waitFor(t, 10*time.Second, func() bool {
		d, _ := srv.Kube.AppsV1().Deployments(e.ns).Get(ctx, "api-green", metav1.GetOptions{})
		return d.Spec.Template.Spec.Containers[0].Image == "example/api:2.0"
	})
	st, _ := r.Slot(ctx, provider.Green)
	if st.Ready || !strings.Contains(st.Detail, "not yet observed generation 2") {
		t.Fatalf("after image change = %+v", st)
	}
	select {
	case err := <-done:
		t.Fatalf("SetImage returned before the slot was ready: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	srv.MarkReady(t, e.ns, "api-green") // the controller and the pods did their work
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(notes) < 2 || !strings.Contains(notes[0], "waiting for green on example/api:2.0") || !strings.Contains(notes[len(notes)-1], "green is ready") {
		t.Fatalf("notes = %q", notes)
	}
	blue, _ := srv.Kube.AppsV1().Deployments(e.ns).Get(ctx, "api-blue", metav1.GetOptions{})
	if blue.Spec.Template.Spec.Containers[0].Image != "example/api:1.0" {
		t.Fatal("blue changed")
	}
}

func TestSetImageTimesOutWhenNeverReady(t *testing.T) {
	e := setup(t)
	ctx, cancel := context.WithTimeout(t.Context(), 600*time.Millisecond)
	defer cancel()
	err := (&Router{Clients: e.c, Settings: e.s}).SetImage(ctx, provider.Green, "example/api:broken")
	if err == nil || !strings.Contains(err.Error(), "did not get ready on example/api:broken in time") || !strings.Contains(err.Error(), "no traffic was shifted") {
		t.Fatalf("err = %v", err)
	}
}

func TestMaintenanceOnOffRestoresRouteExactly(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	r := &Router{Clients: e.c, Settings: e.s}
	if err := r.SetWeights(ctx, provider.Weights{provider.Blue: 80, provider.Green: 20}); err != nil {
		t.Fatal(err)
	}
	before := srv.GetRoute(t, e.ns, "api")
	m := &Maintenance{Router: r}
	if err := m.SetMaintenance(ctx, provider.MaintenanceState{On: true, Message: "upgrading", By: "alice"}); err != nil {
		t.Fatal(err)
	}
	refs := backendRefs(srv.GetRoute(t, e.ns, "api").Object["spec"].(map[string]any)["rules"].([]any)[1])
	names := []string{}
	for _, ref := range refs {
		names = append(names, ref.(map[string]any)["name"].(string))
	}
	if !reflect.DeepEqual(names, []string{"api-maintenance", "shadow"}) {
		t.Fatalf("during maintenance the rule forwards to %v", names)
	}
	st, err := m.Maintenance(ctx)
	if err != nil || !st.On || st.Message != "upgrading" || st.Restore[provider.Green] != 20 {
		t.Fatalf("state = %+v, %v", st, err)
	}
	if w, _ := r.Weights(ctx); w[provider.Green] != 20 {
		t.Fatalf("weights during maintenance = %v, want the ones to restore", w)
	}
	if err := r.SetWeights(ctx, provider.Weights{provider.Blue: 0, provider.Green: 100}); err == nil || !strings.Contains(err.Error(), "maintenance off") {
		t.Fatalf("weight change during maintenance: %v", err)
	}
	// on again only updates the message; off restores what was there.
	if err := m.SetMaintenance(ctx, provider.MaintenanceState{On: true, Message: "longer"}); err != nil {
		t.Fatal(err)
	}
	if err := m.SetMaintenance(ctx, provider.MaintenanceState{}); err != nil {
		t.Fatal(err)
	}
	after := srv.GetRoute(t, e.ns, "api")
	if !reflect.DeepEqual(normalize(t, after.Object["spec"]), normalize(t, before.Object["spec"])) ||
		!reflect.DeepEqual(after.GetAnnotations(), before.GetAnnotations()) {
		t.Fatalf("route not restored:\n got %v\nwant %v", after.Object["spec"], before.Object["spec"])
	}
	if err := m.SetMaintenance(ctx, provider.MaintenanceState{}); err != nil {
		t.Fatalf("off twice: %v", err)
	}
}

func TestServiceModeSwitchesSelector(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	srv.Service(t, e.ns, "api")
	e.s.Mode = ModeService
	r := &ServiceRouter{Clients: e.c, Settings: e.s}
	if _, err := r.Weights(ctx); err == nil || !strings.Contains(err.Error(), "matches neither slot") {
		t.Fatalf("weights of a foreign selector: %v", err)
	}
	if err := r.SetWeights(ctx, provider.Weights{provider.Blue: 0, provider.Green: 100}); err != nil {
		t.Fatal(err)
	}
	svc, _ := srv.Kube.CoreV1().Services(e.ns).Get(ctx, "api", metav1.GetOptions{})
	if !reflect.DeepEqual(svc.Spec.Selector, map[string]string{"app": "api-green"}) {
		t.Fatalf("selector = %v", svc.Spec.Selector)
	}
	if w, err := r.Weights(ctx); err != nil || w[provider.Green] != 100 {
		t.Fatalf("weights = %v, %v", w, err)
	}
	err := r.SetWeights(ctx, provider.Weights{provider.Blue: 90, provider.Green: 10})
	if err == nil || !strings.Contains(err.Error(), "use --weight 0 or 100") {
		t.Fatalf("split in service mode: %v", err)
	}
}

// A slot scaled to zero serves nothing: 0/0 is not ready.
func TestSlotWithZeroReplicasIsNotReady(t *testing.T) {
	e := setup(t)
	ctx := t.Context()
	d, err := srv.Kube.AppsV1().Deployments(e.ns).Get(ctx, "api-green", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	zero := int32(0)
	d.Spec.Replicas = &zero
	if _, err := srv.Kube.AppsV1().Deployments(e.ns).Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	srv.MarkReady(t, e.ns, "api-green") // the controller's view: 0 of 0 up
	st, err := (&Router{Clients: e.c, Settings: e.s}).Slot(ctx, provider.Green)
	if err != nil || st.Ready || !strings.Contains(st.Detail, "0 replicas desired; scale it up") {
		t.Fatalf("slot with 0 replicas = %+v, %v; want not ready, saying to scale it up", st, err)
	}
}

// A rollout the Deployment controller gave up on fails at once with the
// controller's message, as `kubectl rollout status` does.
func TestSetImageFailsOnProgressDeadlineExceeded(t *testing.T) {
	e := setup(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	srv.MarkReady(t, e.ns, "api-green")
	r := &Router{Clients: e.c, Settings: e.s}
	done := make(chan error, 1)
	go func() { done <- r.SetImage(ctx, provider.Green, "example/api:crashloop") }()
	waitFor(t, 10*time.Second, func() bool {
		d, _ := srv.Kube.AppsV1().Deployments(e.ns).Get(ctx, "api-green", metav1.GetOptions{})
		return d.Spec.Template.Spec.Containers[0].Image == "example/api:crashloop"
	})
	const msg = `ReplicaSet "api-green-7d9f" has timed out progressing.`
	srv.SetStatus(t, e.ns, "api-green", func(d *appsv1.Deployment) {
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 3, UpdatedReplicas: 1, ReadyReplicas: 2, AvailableReplicas: 2,
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded", Message: msg}}}
	})
	err := <-done
	if err == nil || !strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), "progress deadline exceeded") || strings.Contains(err.Error(), "in time") {
		t.Fatalf("err = %v; want the controller's ProgressDeadlineExceeded message", err)
	}
	if st, _ := r.Slot(ctx, provider.Green); st.Ready || !strings.Contains(st.Detail, msg) {
		t.Fatalf("slot = %+v", st)
	}
}
