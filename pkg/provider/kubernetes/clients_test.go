package kubernetes

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/deployctl/deployctl/pkg/provider"
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
	_, err = NewClients(ClientOptions{Context: "nope"})
	var ce *provider.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), `context "nope"`) || !strings.Contains(err.Error(), p) ||
		!strings.Contains(err.Error(), "[dead test]") || !strings.Contains(err.Error(), "kubectl config get-contexts") {
		t.Fatalf("unknown context: %v (%T); want a ConfigError naming the context, the file and the contexts there", err, err)
	}
}

func TestMissingKubeconfigIsConfigError(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope", "config")
	_, err := NewClients(ClientOptions{Kubeconfig: missing})
	var ce *provider.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "traffic.kubernetes.kubeconfig") {
		t.Fatalf("missing kubeconfig: %v (%T); want a ConfigError naming the file and the setting", err, err)
	}
}

// execKubeconfig is a kubeconfig for the test server whose user gets its
// credentials from a plugin that fails like an expired `aws eks get-token`.
func execKubeconfig(t *testing.T) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(srv.Kubeconfig(t, "alice", "system:masters"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	plugin := filepath.Join(dir, "eks-token")
	script := "#!/bin/sh\necho 'token expired' >&2\nexit 1\n"
	if err := os.WriteFile(plugin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, u := range cfg.AuthInfos {
		u.ClientCertificateData, u.ClientKeyData, u.Token = nil, nil, ""
		u.Exec = &clientcmdapi.ExecConfig{APIVersion: "client.authentication.k8s.io/v1beta1", Command: plugin,
			Args: []string{"eks", "get-token", "--cluster-name", "staging"}, InteractiveMode: clientcmdapi.NeverExecInteractiveMode}
	}
	p := filepath.Join(dir, "config")
	if err := clientcmd.WriteToFile(*cfg, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFailingCredentialPluginIsUnreachableNamingIt(t *testing.T) {
	kc := execKubeconfig(t)
	c, err := NewClients(ClientOptions{Kubeconfig: kc, Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = (&Router{Clients: c, Settings: settings()}).Weights(t.Context())
	var ue *provider.UnreachableError
	plugin := filepath.Join(filepath.Dir(kc), "eks-token") + " eks get-token --cluster-name staging"
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "credential plugin `"+plugin+"` failed") || !strings.Contains(err.Error(), "run the plugin by hand") {
		t.Fatalf("err = %v (%T); want unreachable, naming the plugin command", err, err)
	}
}

func TestExecCommandHidesSecrets(t *testing.T) {
	got := execCommand(&clientcmdapi.ExecConfig{Command: "vault-login", Args: []string{"--role", "dev", "--token", "s3cr3t", "--api-key=abc"}})
	if got != "vault-login --role dev --token *** --api-key=***" {
		t.Fatalf("execCommand = %q", got)
	}
}

// HOME is read once per process by client-go, so the default file and a
// missing configuration are tested through the binary.
func TestE2EKubeconfigLookup(t *testing.T) {
	e := setup(t)
	op := newOperator(t, "alice", e.ns, "", ModeGateway, "")
	home := t.TempDir()
	op.env = append(op.env, "HOME="+home, "KUBECONFIG=", "KUBERNETES_SERVICE_HOST=", "DEPLOYCTL_TRAFFIC_KUBERNETES_CONTEXT=test")
	if r := op.run("rollout", "status"); r.code != 2 || !strings.Contains(r.errOut, "no kubeconfig found") || !strings.Contains(r.errOut, filepath.Join(home, ".kube", "config")) {
		t.Fatalf("without any kubeconfig: exit %d, %q; want 2 naming the files looked at", r.code, r.errOut)
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
	op.env = append(op.env, "DEPLOYCTL_TRAFFIC_KUBERNETES_CONTEXT=nope")
	if r := op.run("rollout", "status"); r.code != 2 || !strings.Contains(r.errOut, `context "nope"`) {
		t.Fatalf("unknown context: exit %d, %q; want 2", r.code, r.errOut)
	}
}

func TestE2EExpiredCredentialPluginExits4(t *testing.T) {
	e := setup(t)
	kc := execKubeconfig(t)
	op := newOperator(t, "alice", e.ns, kc, ModeGateway, "")
	r := op.run("rollout", "status")
	if r.code != 4 || !strings.Contains(r.errOut, "token expired") || !strings.Contains(r.errOut, filepath.Join(filepath.Dir(kc), "eks-token")+" eks get-token") {
		t.Fatalf("expired plugin: exit %d, %q; want 4 naming the plugin, with its own message", r.code, r.errOut)
	}
}

func sameHost(h string) bool {
	return strings.TrimPrefix(strings.TrimSuffix(h, "/"), "https://") == strings.TrimPrefix(strings.TrimSuffix(srv.Config.Host, "/"), "https://")
}
