package kubernetes

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

func clientsAs(t testing.TB, ns string, cfg *rest.Config) *Clients {
	t.Helper()
	c, err := ClientsFor(cfg, ns)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// twoContexts writes a kubeconfig whose context "test" reaches the test
// server (namespace from-context) and whose current context "dead" does not.
func twoContexts(t *testing.T) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(srv.Kubeconfig(t, "alice", "system:masters"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := cfg.Contexts[cfg.CurrentContext]
	ctx.Namespace = "from-context"
	cfg.Contexts = map[string]*clientcmdapi.Context{"test": ctx}
	dead := *cfg.Clusters[cfg.Contexts["test"].Cluster]
	dead.Server = "https://127.0.0.1:1"
	cfg.Clusters["dead"] = &dead
	deadCtx := *cfg.Contexts["test"]
	deadCtx.Cluster = "dead"
	cfg.Contexts["dead"] = &deadCtx
	cfg.CurrentContext = "dead"
	p := filepath.Join(t.TempDir(), "config")
	if err := clientcmd.WriteToFile(*cfg, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNewClientsFollowsKubectlConventions(t *testing.T) {
	p := twoContexts(t)
	c, err := NewClients(ClientOptions{Kubeconfig: p})
	if err != nil || c.Host != "https://127.0.0.1:1" {
		t.Fatalf("current context: %+v, %v", c, err)
	}
	c, err = NewClients(ClientOptions{Kubeconfig: p, Context: "test"})
	if err != nil || !sameHost(c.Host) || c.Namespace != "from-context" || c.Kube == nil {
		t.Fatalf("context key: %+v, %v", c, err)
	}
	t.Setenv("KUBECONFIG", p)
	c, err = NewClients(ClientOptions{Context: "test", Namespace: "api"})
	if err != nil || !sameHost(c.Host) || c.Namespace != "api" {
		t.Fatalf("$KUBECONFIG: %+v, %v", c, err)
	}
	if _, err := NewClients(ClientOptions{Context: "nope"}); err == nil || !strings.Contains(err.Error(), `context "nope"`) {
		t.Fatalf("unknown context: %v", err)
	}
}

// HOME is read once per process by client-go, so the default file and a
// missing configuration are tested through the binary.
func TestE2EKubeconfigLookup(t *testing.T) {
	e := setup(t)
	op := newOperator(t, "alice", e.ns, "", ModeGateway, "")
	home := t.TempDir()
	op.env = append(op.env, "HOME="+home, "KUBECONFIG=", "KUBERNETES_SERVICE_HOST=", "DEPLOYCTL_TRAFFIC_KUBERNETES_CONTEXT=test")
	if r := op.run("rollout", "status"); r.code != 1 || !strings.Contains(r.errOut, "no usable kubeconfig") {
		t.Fatalf("without any kubeconfig: exit %d, %q", r.code, r.errOut)
	}
	raw, _ := os.ReadFile(twoContexts(t))
	if err := os.MkdirAll(filepath.Join(home, ".kube"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".kube", "config"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	op.must("rollout", "status") // ~/.kube/config, context from the DEPLOYCTL_ override
	op.env = append(op.env, "HOME=/nonexistent", "KUBECONFIG="+filepath.Join(home, ".kube", "config"))
	op.must("rollout", "status") // $KUBECONFIG
	op.env = append(op.env, "DEPLOYCTL_TRAFFIC_KUBERNETES_CONTEXT=")
	if r := op.run("rollout", "status"); r.code != 4 {
		t.Fatalf("current context (unreachable): exit %d, %q", r.code, r.errOut)
	}
}

func sameHost(h string) bool {
	return strings.TrimPrefix(strings.TrimSuffix(h, "/"), "https://") == strings.TrimPrefix(strings.TrimSuffix(srv.Config.Host, "/"), "https://")
}
