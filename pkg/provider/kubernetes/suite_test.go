package kubernetes

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/providertest"
)

// The shared suites hold the Kubernetes objects to the same behaviour as
// the local files.

func TestLockerSuite(t *testing.T) {
	providertest.TestLocker(t, func(t *testing.T) provider.Locker {
		return NewLocker(clientsAs(t, srv.Namespace(t), srv.Config), "suite")
	})
}

func TestStateStoreSuite(t *testing.T) {
	providertest.TestStateStore(t, func(t *testing.T) provider.StateStore {
		return &StateStore{Clients: clientsAs(t, srv.Namespace(t), srv.Config), Env: "suite"}
	})
}

func TestHistoryLogSuite(t *testing.T) {
	providertest.TestHistoryLog(t, func(t *testing.T) provider.HistoryLog {
		return &HistoryLog{Clients: clientsAs(t, srv.Namespace(t), srv.Config), Env: "suite"}
	})
}

// mode service splits nothing, so only the HTTPRoute router runs the suite
// (TestServiceModeSwitchesSelector covers the other).
func trafficFixture(t *testing.T) providertest.TrafficFixture {
	e := setup(t)
	srv.MarkReady(t, e.ns, "api-blue")
	srv.MarkReady(t, e.ns, "api-green")
	setReady := func(s provider.Slot, ready bool) {
		if ready {
			srv.MarkReady(t, e.ns, e.s.Slots.Of(s).Deployment)
			return
		}
		srv.SetStatus(t, e.ns, e.s.Slots.Of(s).Deployment, func(d *appsv1.Deployment) {
			d.Status.AvailableReplicas, d.Status.ReadyReplicas = 0, 0
		})
	}
	return providertest.TrafficFixture{Router: &Router{Clients: e.c, Settings: e.s}, SetReady: setReady}
}

func TestTrafficRouterSuite(t *testing.T) {
	providertest.TestTrafficRouter(t, func(t *testing.T) providertest.TrafficFixture { return trafficFixture(t) })
}

func TestMaintenanceSwitchSuite(t *testing.T) {
	providertest.TestMaintenanceSwitch(t, func(t *testing.T) provider.MaintenanceSwitch {
		e := setup(t)
		return &Maintenance{Router: &Router{Clients: e.c, Settings: e.s}}
	})
}
