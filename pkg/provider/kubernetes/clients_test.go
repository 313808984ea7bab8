package kubernetes

import (
	"testing"

	"k8s.io/client-go/rest"
)

func clientsAs(t testing.TB, ns string, cfg *rest.Config) *Clients {
	t.Helper()
	c, err := ClientsFor(cfg, ns)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
