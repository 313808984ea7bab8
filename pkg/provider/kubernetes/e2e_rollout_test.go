package kubernetes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deployctl/deployctl/pkg/provider"
)

// rolloutReady is a namespace at blue 100 with both slots ready, and an
// administrator's project folder.
func rolloutReady(t *testing.T) (env, *operator) {
	t.Helper()
	e := setup(t)
	srv.MarkReady(t, e.ns, "api-blue")
	srv.MarkReady(t, e.ns, "api-green")
	return e, newOperator(t, "alice", e.ns, srv.Kubeconfig(t, "alice", "system:masters"), ModeGateway, "")
}

type statusJSON struct {
	Active   string                     `json:"active"`
	Weights  map[string]int             `json:"weights"`
	Versions map[string]string          `json:"versions"`
	Health   map[string]json.RawMessage `json:"health"`
}

func rolloutStatus(t *testing.T, op *operator) statusJSON {
	t.Helper()
	var st statusJSON
	r := op.must("rollout", "status", "-o", "json")
	if err := json.Unmarshal([]byte(r.out), &st); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, r.out)
	}
	return st
}

func TestE2ERolloutWeightsReadBackAndForeignContentKept(t *testing.T) {
	e, alice := rolloutReady(t)
	orig := srv.GetRoute(t, e.ns, "api")
	alice.must("rollout", "green", "--weight", "10", "--reason", "canary")
	got := srv.GetRoute(t, e.ns, "api")
	if want := withWeights(t, orig, 90, 10); !reflect.DeepEqual(normalize(t, got.Object["spec"]), want) {
		t.Fatalf("route changed beyond the weights:\n got %v\nwant %v", got.Object["spec"], want)
	}
	if !reflect.DeepEqual(got.GetAnnotations(), orig.GetAnnotations()) || !reflect.DeepEqual(got.GetLabels(), orig.GetLabels()) {
		t.Fatalf("metadata changed: %v %v", got.GetLabels(), got.GetAnnotations())
	}
	st := rolloutStatus(t, alice)
	if st.Weights["blue"] != 90 || st.Weights["green"] != 10 || st.Versions["green"] != "example/api:1.0" {
		t.Fatalf("status = %+v", st)
	}
	if !strings.Contains(string(st.Health["green"]), "2/2 available") {
		t.Fatalf("health of green = %s", st.Health["green"])
	}
	// The rollout state and the history live in the namespace, for every operator.
	cms, err := srv.Kube.CoreV1().ConfigMaps(e.ns).List(t.Context(), metav1.ListOptions{LabelSelector: LabelManagedBy + "=deployctl"})
	if err != nil || len(cms.Items) < 2 {
		t.Fatalf("deployctl's ConfigMaps: %v, %v", cms, err)
	}
	alice.must("rollout", "promote")
	if w, _ := (&Router{Clients: e.c, Settings: e.s}).Weights(t.Context()); w[provider.Green] != 100 {
		t.Fatalf("after promote: %v", w)
	}
}

func TestE2ERolloutRefusesUnreadySlot(t *testing.T) {
	e := setup(t) // green never became ready
	alice := newOperator(t, "alice", e.ns, srv.Kubeconfig(t, "alice", "system:masters"), ModeGateway, "")
	before := srv.GetRoute(t, e.ns, "api").GetResourceVersion()
	r := alice.run("rollout", "green", "--weight", "10")
	if r.code != 1 || !strings.Contains(r.errOut, "0/2 available") {
		t.Fatalf("exit %d, stderr %q", r.code, r.errOut)
	}
	if srv.GetRoute(t, e.ns, "api").GetResourceVersion() != before {
		t.Fatal("the route changed")
	}
}

// rollout SLOT --image sets the image, waits for the new pods (here: the
// test writing the Deployment's status, as the controller would), then
// shifts the traffic.
func TestE2ERolloutImageWaitsForReadiness(t *testing.T) {
	e, alice := rolloutReady(t)
	cmd := exec.Command(deployctl(t), "rollout", "green", "--weight", "10", "--image", "example/api:2.0")
	cmd.Dir, cmd.Env = alice.dir, alice.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, func() bool {
		d, _ := srv.Kube.AppsV1().Deployments(e.ns).Get(t.Context(), "api-green", metav1.GetOptions{})
		return d.Spec.Template.Spec.Containers[0].Image == "example/api:2.0"
	})
	time.Sleep(300 * time.Millisecond) // the command must still be waiting
	if w, _ := (&Router{Clients: e.c, Settings: e.s}).Weights(t.Context()); w[provider.Green] != 0 {
		t.Fatalf("traffic shifted before green was ready: %v", w)
	}
	srv.MarkReady(t, e.ns, "api-green")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("rollout --image: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "waiting for green on example/api:2.0") {
		t.Fatalf("no progress on stderr: %q", stderr.String())
	}
	st := rolloutStatus(t, alice)
	if st.Weights["green"] != 10 || st.Versions["green"] != "example/api:2.0" || st.Versions["blue"] != "example/api:1.0" {
		t.Fatalf("status = %+v", st)
	}
}

// Another writer (a busy controller) changes the route every 10 ms while
// the command runs: the command retries on the Conflict and the other
// writer's changes survive.
func TestE2ERolloutConflictRetried(t *testing.T) {
	e, alice := rolloutReady(t)
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	var writes int
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			u, err := srv.Dynamic.Resource(HTTPRouteGVR).Namespace(e.ns).Get(ctx, "api", metav1.GetOptions{})
			if err != nil {
				continue
			}
			ann := u.GetAnnotations()
			ann["other-writer"] = fmt.Sprint(writes + 1)
			u.SetAnnotations(ann)
			if _, err := srv.Dynamic.Resource(HTTPRouteGVR).Namespace(e.ns).Update(ctx, u, metav1.UpdateOptions{}); err == nil {
				writes++
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	alice.must("rollout", "green", "--weight", "30")
	stop()
	wg.Wait()
	got := srv.GetRoute(t, e.ns, "api")
	// A write cancelled by stop() may have landed without being counted.
	if n, _ := strconv.Atoi(got.GetAnnotations()["other-writer"]); writes < 2 || n < writes {
		t.Fatalf("the other writer's changes (%d writes) were lost: %v", writes, got.GetAnnotations())
	}
	if w, _ := (&Router{Clients: e.c, Settings: e.s}).Weights(t.Context()); w[provider.Green] != 30 {
		t.Fatalf("weights = %v", w)
	}
}

func TestE2ERolloutSecondOperatorExit3AndRBAC(t *testing.T) {
	e, _ := rolloutReady(t)
	release, err := NewLocker(e.c, "staging").Acquire(t.Context(), provider.Holder{Actor: "alice", Host: "alice-laptop", Command: "rollout green", Reason: "canary", Since: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	bob := newOperator(t, "bob", e.ns, srv.Kubeconfig(t, "bob", "system:masters"), ModeGateway, "")
	if r := bob.run("rollout", "blue", "--weight", "100"); r.code != 3 || !strings.Contains(r.errOut, "alice-laptop") {
		t.Fatalf("exit %d, stderr %q", r.code, r.errOut)
	}
	_ = release()
	intern := newOperator(t, "intern", e.ns, srv.Kubeconfig(t, "intern"), ModeGateway, "")
	before := srv.GetRoute(t, e.ns, "api").GetResourceVersion()
	if r := intern.run("rollout", "green", "--weight", "10"); r.code != 1 || !strings.Contains(r.errOut, `User "intern" cannot`) {
		t.Fatalf("exit %d, stderr %q", r.code, r.errOut)
	}
	if srv.GetRoute(t, e.ns, "api").GetResourceVersion() != before {
		t.Fatal("the route changed")
	}
}

func TestE2ERolloutServiceMode(t *testing.T) {
	e, _ := rolloutReady(t)
	srv.Service(t, e.ns, "api")
	svc, _ := srv.Kube.CoreV1().Services(e.ns).Get(t.Context(), "api", metav1.GetOptions{})
	svc.Spec.Selector = map[string]string{"app": "api-blue"} // as rendered: all traffic on blue
	if _, err := srv.Kube.CoreV1().Services(e.ns).Update(t.Context(), svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	op := newOperator(t, "alice", e.ns, srv.Kubeconfig(t, "alice", "system:masters"), ModeService, "")
	if r := op.run("rollout", "green", "--weight", "10"); r.code == 0 || !strings.Contains(r.errOut, "use --weight 0 or 100") {
		t.Fatalf("split in mode service: exit %d, stderr %q", r.code, r.errOut)
	}
	op.must("rollout", "blue", "--weight", "100")
	op.must("rollout", "green", "--weight", "100")
	svc, _ = srv.Kube.CoreV1().Services(e.ns).Get(t.Context(), "api", metav1.GetOptions{})
	if !reflect.DeepEqual(svc.Spec.Selector, map[string]string{"app": "api-green"}) {
		t.Fatalf("selector = %v", svc.Spec.Selector)
	}
	if st := rolloutStatus(t, op); st.Weights["green"] != 100 {
		t.Fatalf("status = %+v", st)
	}
}

func TestE2ERolloutAbortHistoryAndHealth(t *testing.T) {
	e, alice := rolloutReady(t)
	alice.must("rollout", "green", "--weight", "50", "--reason", "half")
	alice.must("rollout", "abort", "--reason", "errors up")
	if w, _ := (&Router{Clients: e.c, Settings: e.s}).Weights(t.Context()); w[provider.Blue] != 100 {
		t.Fatalf("after abort: %v", w)
	}
	hist := alice.must("rollout", "history").out
	if !strings.Contains(hist, "half") || !strings.Contains(hist, "errors up") {
		t.Fatalf("rollout history:\n%s", hist)
	}
	srv.SetStatus(t, e.ns, "api-green", func(d *appsv1.Deployment) { d.Status.AvailableReplicas, d.Status.ReadyReplicas = 1, 1 })
	r := alice.run("health")
	if r.code != 1 || !strings.Contains(r.out+r.errOut, "1/2 available") {
		t.Fatalf("health with green half down: exit %d\n%s%s", r.code, r.out, r.errOut)
	}
}

// rollout SLOT --image … --timeout D gives up when the slot never gets
// ready on the new image: exit 1 naming the timeout, and no traffic moved.
func TestE2ERolloutImageTimeout(t *testing.T) {
	e, alice := rolloutReady(t)
	cmd := exec.Command(deployctl(t), "rollout", "green", "--weight", "10", "--image", "example/api:3.0", "--timeout", "2s")
	cmd.Dir, cmd.Env = alice.dir, alice.env
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("want exit 1, got %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "did not get ready") || !strings.Contains(string(out), "--timeout") {
		t.Fatalf("message does not explain the timeout:\n%s", out)
	}
	if w, _ := (&Router{Clients: e.c, Settings: e.s}).Weights(t.Context()); w[provider.Green] != 0 {
		t.Fatalf("traffic shifted to a slot that never got ready: %v", w)
	}
}
