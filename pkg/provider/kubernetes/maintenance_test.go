package kubernetes

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deployctl/deployctl/pkg/provider"
)

// sharedRoute has a foreign backend with the default weight (1) in the
// slots' rule, and matches on a header.
const sharedRoute = `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: api}
spec:
  rules:
  - matches: [{path: {type: PathPrefix, value: /}, headers: [{name: x-tenant, value: acme}]}]
    backendRefs:
    - {name: api-blue, port: 80, weight: 20}
    - {name: api-green, port: 80, weight: 80}
    - {name: legacy, port: 8080}
`

func refNamesWeights(rule any) map[string]int64 {
	out := map[string]int64{}
	for _, ref := range backendRefs(rule) {
		out[ref.(map[string]any)["name"].(string)] = weightOf(ref)
	}
	return out
}

func TestMaintenanceTakesAllTrafficButHealthPaths(t *testing.T) {
	ns := srv.Namespace(t)
	srv.Route(t, ns, sharedRoute)
	before := srv.GetRoute(t, ns, "api")
	m := &Maintenance{Router: &Router{Clients: clientsAs(t, ns, srv.Config), Settings: settings()}, HealthPaths: []string{"/health", "/health/readiness"}}
	if err := m.SetMaintenance(t.Context(), provider.MaintenanceState{On: true, Message: "upgrading"}); err != nil {
		t.Fatal(err)
	}
	rules := srv.GetRoute(t, ns, "api").Object["spec"].(map[string]any)["rules"].([]any)
	if got := refNamesWeights(rules[0]); !reflect.DeepEqual(got, map[string]int64{"api-maintenance": 1, "legacy": 0}) {
		t.Fatalf("during maintenance the rule forwards to %v; want all weight on api-maintenance", got)
	}
	if w, ok := backendRefs(rules[0])[0].(map[string]any)["weight"]; !ok || w == nil {
		t.Fatal("the maintenance backendRef has no explicit weight")
	}
	if len(rules) != 2 {
		t.Fatalf("rules = %v; want a second rule for the health paths", rules)
	}
	health := rules[1].(map[string]any)
	if got := refNamesWeights(health); len(got) != 1 || got["api-green"] == 0 {
		t.Fatalf("health rule forwards to %v; want the active slot api-green", got)
	}
	var paths []string
	for _, mt := range health["matches"].([]any) {
		mm := mt.(map[string]any)
		p := mm["path"].(map[string]any)
		if p["type"] != "Exact" || mm["headers"] == nil {
			t.Fatalf("health match %v; want Exact, keeping the rule's header match", mm)
		}
		paths = append(paths, p["value"].(string))
	}
	if !reflect.DeepEqual(paths, []string{"/health", "/health/readiness"}) {
		t.Fatalf("health paths = %v", paths)
	}
	if err := m.SetMaintenance(t.Context(), provider.MaintenanceState{}); err != nil {
		t.Fatal(err)
	}
	after := srv.GetRoute(t, ns, "api")
	if !reflect.DeepEqual(normalize(t, after.Object["spec"]), normalize(t, before.Object["spec"])) {
		t.Fatalf("route not restored:\n got %v\nwant %v", after.Object["spec"], before.Object["spec"])
	}
}

// The page, its message and Retry-After come from the state of each
// `maintenance on`, not from when the manifests were rendered.
func TestMaintenancePageFollowsState(t *testing.T) {
	ns := srv.Namespace(t)
	s := settings()
	s.Namespace = ns
	applyRendered(t, s)
	m := &Maintenance{Router: &Router{Clients: clientsAs(t, ns, srv.Config), Settings: s}}
	until := time.Now().Add(2 * time.Hour).Truncate(time.Second)
	if err := m.SetMaintenance(t.Context(), provider.MaintenanceState{On: true, Message: "Database <upgrade>", Until: until}); err != nil {
		t.Fatal(err)
	}
	cm, err := srv.Kube.CoreV1().ConfigMaps(ns).Get(t.Context(), "api-maintenance", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h := cm.Data["maintenance.html"]; !strings.Contains(h, "Database &lt;upgrade&gt;") {
		t.Fatalf("page = %s; want the message, escaped", h)
	}
	if j := cm.Data["maintenance.json"]; !strings.Contains(j, `"message":"Database \u003cupgrade\u003e"`) || !strings.Contains(j, until.UTC().Format(time.RFC3339)) {
		t.Fatalf("json = %s", j)
	}
	if h := cm.Data["headers.conf"]; !strings.Contains(h, `add_header Retry-After "`+until.UTC().Format(http.TimeFormat)+`" always;`) {
		t.Fatalf("headers.conf = %q; want Retry-After at the end of the window", h)
	}
	if !strings.Contains(cm.Data["default.conf"], "include /etc/deployctl/headers.conf;") {
		t.Fatal("default.conf does not read headers.conf")
	}
	rev := func() string {
		d, err := srv.Kube.AppsV1().Deployments(ns).Get(t.Context(), "api-maintenance", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return d.Spec.Template.Annotations[PageAnnotation]
	}
	first := rev()
	if first == "" {
		t.Fatal("the maintenance pod was not rolled onto the new page")
	}
	if err := m.SetMaintenance(t.Context(), provider.MaintenanceState{On: true, Message: "taking longer"}); err != nil {
		t.Fatal(err)
	}
	cm, _ = srv.Kube.CoreV1().ConfigMaps(ns).Get(t.Context(), "api-maintenance", metav1.GetOptions{})
	if !strings.Contains(cm.Data["maintenance.html"], "taking longer") || !strings.Contains(cm.Data["headers.conf"], "Retry-After 300 always") {
		t.Fatalf("second on: page %q, headers %q", cm.Data["maintenance.html"], cm.Data["headers.conf"])
	}
	if rev() == first {
		t.Fatal("the maintenance pod was not rolled again")
	}
}

// A maintenance backend deployctl did not render is still switched to,
// with a warning that its page was not updated.
func TestMaintenanceWithoutPageConfigMapWarns(t *testing.T) {
	e := setup(t)
	n := &notes{}
	m := &Maintenance{Router: &Router{Clients: e.c, Settings: e.s, Notef: n.add}}
	if err := m.SetMaintenance(t.Context(), provider.MaintenanceState{On: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(n.String(), "the maintenance page was not updated") || !strings.Contains(n.String(), "ConfigMap "+e.ns+"/api-maintenance") {
		t.Fatalf("notes = %q", n)
	}
}
