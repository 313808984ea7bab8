package kubernetes

import (
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deployctl/deployctl/pkg/provider"
)

// e2e is a test namespace with the slots, the route at 80/20 and an
// administrator's project folder.
func e2e(t *testing.T) (env, *operator) {
	t.Helper()
	e := setup(t)
	r := &Router{Clients: e.c, Settings: e.s}
	if err := r.SetWeights(t.Context(), provider.Weights{provider.Blue: 80, provider.Green: 20}); err != nil {
		t.Fatal(err)
	}
	return e, newOperator(t, "alice", e.ns, srv.Kubeconfig(t, "alice", "system:masters"), ModeGateway, "")
}

func TestE2EMaintenanceOnOffRestoresWeights(t *testing.T) {
	e, alice := e2e(t)
	before := srv.GetRoute(t, e.ns, "api")
	alice.must("maintenance", "on", "--message", "database upgrade", "--reason", "ticket 42")
	refs := backendRefs(srv.GetRoute(t, e.ns, "api").Object["spec"].(map[string]any)["rules"].([]any)[1])
	if refs[0].(map[string]any)["name"] != "api-maintenance" {
		t.Fatalf("rule forwards to %v during maintenance", refs)
	}
	var st struct {
		On      bool   `json:"on"`
		Message string `json:"message"`
		By      string `json:"by"`
	}
	if err := json.Unmarshal([]byte(alice.must("maintenance", "status", "-o", "json").out), &st); err != nil || !st.On || st.Message != "database upgrade" || st.By != "alice" {
		t.Fatalf("status = %+v, %v", st, err)
	}
	// -v shows each API call the provider makes (finding 7 of the
	// operator-experience issue), and never the token
	v := alice.run("maintenance", "status", "-v")
	if !strings.Contains(v.errOut, "level=DEBUG msg=http method=GET") || !strings.Contains(v.errOut, "/apis/") ||
		strings.Contains(strings.ToLower(v.errOut), "bearer") {
		t.Fatalf("maintenance status -v: stderr:\n%s", v.errOut)
	}
	alice.must("maintenance", "off")
	after := srv.GetRoute(t, e.ns, "api")
	if !reflect.DeepEqual(normalize(t, after.Object["spec"]), normalize(t, before.Object["spec"])) {
		t.Fatalf("route not restored:\n got %v\nwant %v", after.Object["spec"], before.Object["spec"])
	}
	if w, _ := (&Router{Clients: e.c, Settings: e.s}).Weights(t.Context()); w[provider.Blue] != 80 || w[provider.Green] != 20 {
		t.Fatalf("weights after off = %v, want 80/20", w)
	}
	// The history lives in the cluster: another machine sees it.
	hist := (&HistoryLog{Clients: e.c, Env: "staging"})
	entries, err := hist.List(t.Context(), provider.Filter{Command: "maintenance"})
	if err != nil || len(entries) != 2 || entries[0].Actor != "alice" || entries[0].Reason != "ticket 42" {
		t.Fatalf("history = %+v, %v", entries, err)
	}
}

func TestE2ESecondOperatorGetsExit3(t *testing.T) {
	e, alice := e2e(t)
	bob := newOperator(t, "bob", e.ns, srv.Kubeconfig(t, "bob", "system:masters"), ModeGateway, "")
	// alice's long command holds the lease from her laptop.
	release, err := NewLocker(e.c, "staging").Acquire(t.Context(), provider.Holder{
		Actor: "alice", Host: "alice-laptop", PID: 4242, Command: "rollout green", Reason: "release 1.4", Since: time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	before := srv.GetRoute(t, e.ns, "api").GetResourceVersion()
	r := bob.run("maintenance", "on")
	if r.code != 3 || !strings.Contains(r.errOut, "alice") || !strings.Contains(r.errOut, "alice-laptop") || !strings.Contains(r.errOut, "release 1.4") {
		t.Fatalf("exit %d, stderr %q; want 3 naming alice", r.code, r.errOut)
	}
	if srv.GetRoute(t, e.ns, "api").GetResourceVersion() != before {
		t.Fatal("the route changed although the lock was held")
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	bob.must("maintenance", "on")
	alice.must("maintenance", "off")
}

func TestE2EExpiredLeaseIsTakenOver(t *testing.T) {
	e, alice := e2e(t)
	// A command that crashed an hour ago left its lease behind (a short
	// one: taking over waits that long, watching it unchanged).
	id := `{"actor":"carol","host":"ci-runner","pid":7,"command":"maintenance on"}`
	secs := int32(2)
	old := metav1.NewMicroTime(time.Now().Add(-time.Hour))
	_, err := srv.Kube.CoordinationV1().Leases(e.ns).Create(t.Context(), &coordv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "deployctl-lock-staging"},
		Spec:       coordv1.LeaseSpec{HolderIdentity: &id, LeaseDurationSeconds: &secs, RenewTime: &old, AcquireTime: &old},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	alice.must("maintenance", "on")
	le, _ := srv.Kube.CoordinationV1().Leases(e.ns).Get(t.Context(), "deployctl-lock-staging", metav1.GetOptions{})
	if *le.Spec.HolderIdentity != "" || *le.Spec.LeaseTransitions != 1 {
		t.Fatalf("lease after the command: holder %q, transitions %d; want released after one take-over", *le.Spec.HolderIdentity, *le.Spec.LeaseTransitions)
	}
}

func TestE2EUserWithoutRightsChangesNothing(t *testing.T) {
	e, _ := e2e(t)
	intern := newOperator(t, "intern", e.ns, srv.Kubeconfig(t, "intern"), ModeGateway, "")
	before := srv.GetRoute(t, e.ns, "api").GetResourceVersion()
	r := intern.run("maintenance", "on")
	if r.code != 1 || !strings.Contains(r.errOut, `User "intern" cannot`) || !strings.Contains(r.errOut, "docs/kubernetes.md") ||
		!strings.Contains(r.errOut, "the cluster refused to") {
		t.Fatalf("exit %d, stderr %q", r.code, r.errOut)
	}
	if strings.Count(r.errOut, "\n") > 3 {
		t.Fatalf("a wall of text for a permission problem: %q", r.errOut)
	}
	if srv.GetRoute(t, e.ns, "api").GetResourceVersion() != before {
		t.Fatal("the route changed")
	}
}

// The Role in docs/kubernetes.md is enough for every command.
func TestE2EDocumentedRoleIsEnough(t *testing.T) {
	e, _ := e2e(t)
	applyDocumentedRole(t, e.ns, "deployctl-operators")
	op := newOperator(t, "ops", e.ns, srv.Kubeconfig(t, "ops", "deployctl-operators"), ModeGateway, "")
	op.must("maintenance", "on")
	op.must("maintenance", "status")
	op.must("maintenance", "off")
}

func applyDocumentedRole(t *testing.T, ns, group string) {
	t.Helper()
	doc, err := os.ReadFile("../../../docs/kubernetes.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- role -->\\s*```yaml\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/kubernetes.md has no <!-- role --> yaml block")
	}
	objs, err := Objects(m[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		o.SetNamespace(ns)
		if o.GetKind() == "RoleBinding" {
			subjects := []any{map[string]any{"kind": "Group", "name": group, "apiGroup": "rbac.authorization.k8s.io"}}
			o.Object["subjects"] = subjects
		}
		gvr := map[string]string{"Role": "roles", "RoleBinding": "rolebindings"}[o.GetKind()]
		res := srv.Dynamic.Resource(rbacGVR(gvr)).Namespace(ns)
		if _, err := res.Create(t.Context(), o, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create %s: %v", o.GetKind(), err)
		}
	}
}

func TestE2EUnreachableClusterExits4(t *testing.T) {
	kc := writeKubeconfig(t, "https://127.0.0.1:1")
	op := newOperator(t, "alice", "default", kc, ModeGateway, "")
	r := op.run("maintenance", "on")
	if r.code != 4 || !strings.Contains(r.errOut, "cannot reach the kubernetes API at https://127.0.0.1:1") {
		t.Fatalf("exit %d, stderr %q", r.code, r.errOut)
	}
}

func TestE2EEnvValidateReadsConfigMapAndSecret(t *testing.T) {
	ns := srv.Namespace(t)
	ctx := t.Context()
	canary := "canary-Zq8VxN2pLk4mRt7sWy1bHc5dFg3jKe9a"
	_, err := srv.Kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "api-config"},
		Data: map[string]string{"NODE_ENV": "staging", "CORS_ORIGIN": "https://app.example.com"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = srv.Kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "api-secrets"},
		Data: map[string][]byte{"JWT_SECRET": []byte(canary), "DATABASE_URL": []byte("postgres://api:" + canary + "@db:5432/api")}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	kc := srv.Kubeconfig(t, "alice", "system:masters")
	op := newOperator(t, "alice", ns, kc, ModeGateway,
		"variables:\n  schema: variables.yaml\n  sources: [{type: kubernetes, configmap: api-config, secret: api-secrets, namespace: "+ns+", kubeconfig: "+kc+"}]\n")
	schema := "variables:\n  NODE_ENV: {type: enum, values: [staging], required: true}\n  CORS_ORIGIN: {type: origins, required: true}\n" +
		"  JWT_SECRET: {type: string, secret: true, required: true, min_length: 32}\n  DATABASE_URL: {type: url, secret: true, required: true}\n"
	if err := os.WriteFile(op.dir+"/environments/variables.yaml", []byte(schema), 0o644); err != nil {
		t.Fatal(err)
	}
	r := op.run("env", "validate", "-o", "json")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.out, r.errOut)
	}
	if !strings.Contains(r.out, "kubernetes:secret/api-secrets") || !strings.Contains(r.out, "kubernetes:configmap/api-config") {
		t.Fatalf("sources not named: %s", r.out)
	}
	if strings.Contains(r.out+r.errOut, canary) {
		t.Fatal("a secret value appeared in the output")
	}
}
