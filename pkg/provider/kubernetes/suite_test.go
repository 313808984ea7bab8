package kubernetes

import (
	"testing"

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
