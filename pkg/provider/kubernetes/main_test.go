package kubernetes

import (
	"testing"

	"github.com/deployctl/deployctl/pkg/provider/kubernetes/kubetest"
)

var srv kubetest.Server

func TestMain(m *testing.M) { kubetest.Main(m, &srv) }

// foreignRoute is a route with content deployctl does not own: another
// rule, matches, filters on the rule and on a backend, a third backend.
const foreignRoute = `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: api
  labels: {team: payments}
  annotations: {example.com/owner: payments-team}
spec:
  parentRefs: [{name: gateway}]
  hostnames: [api.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /legacy}}]
    backendRefs: [{name: legacy, port: 8080}]
  - matches:
    - path: {type: PathPrefix, value: /}
      headers: [{name: x-tenant, value: acme}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {add: [{name: x-env, value: staging}]}
    backendRefs:
    - name: api-blue
      port: 80
      weight: 100
      filters:
      - type: RequestHeaderModifier
        requestHeaderModifier: {set: [{name: x-slot, value: blue}]}
    - {name: api-green, port: 80, weight: 0}
    - {name: shadow, port: 80, weight: 0}
`

func settings() Settings {
	return Settings{
		Mode: ModeGateway, Route: "api", Service: "api",
		Slots: Slots{
			Blue:  SlotObjects{Service: "api-blue", Deployment: "api-blue"},
			Green: SlotObjects{Service: "api-green", Deployment: "api-green"},
		},
		MaintenanceService: "api-maintenance",
	}
}

// env is one test's namespace with the slot objects and the route.
type env struct {
	ns string
	c  *Clients
	s  Settings
}

func setup(t testing.TB) env {
	t.Helper()
	ns := srv.Namespace(t)
	for _, n := range []string{"api-blue", "api-green"} {
		srv.Deployment(t, ns, n, "example/api:1.0", 2)
		srv.Service(t, ns, n)
	}
	srv.Route(t, ns, foreignRoute)
	return env{ns: ns, c: clientsAs(t, ns, srv.Config), s: settings()}
}
