// Package kubetest runs a real kube-apiserver and etcd (built from Go modules
// by scripts/k8s/build) for tests, with the Gateway API CRDs installed.
//
//	var srv kubetest.Server
//	func TestMain(m *testing.M) { kubetest.Main(m, &srv) }
//	func TestX(t *testing.T) { ns := srv.Namespace(t); … }
//
// No controllers run: Deployment status changes only when a test writes it.
package kubetest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Server is the running API server of a test package.
type Server struct {
	Env     *envtest.Environment
	Config  *rest.Config // system:masters
	Kube    kubernetes.Interface
	Dynamic dynamic.Interface
	missing string // why the server is not there, when it is not
	seq     atomic.Int64
}

// Main starts the server, runs the tests and stops it. Without the binaries
// (KUBEBUILDER_ASSETS) it fails when CI is set and otherwise lets the tests
// skip loudly.
func Main(m *testing.M, srv *Server) {
	if err := srv.start(); err != nil {
		if os.Getenv("CI") != "" {
			fmt.Fprintf(os.Stderr, "kubetest: %v\n", err)
			os.Exit(1)
		}
		srv.missing = err.Error()
		fmt.Fprintf(os.Stderr, "kubetest: SKIPPING Kubernetes tests: %v\n", err)
		os.Exit(m.Run())
	}
	code := m.Run()
	if err := srv.Env.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "kubetest: stop: %v\n", err)
	}
	os.Exit(code)
}

// Need skips t (loudly) when the server could not start outside CI.
func (s *Server) Need(t testing.TB) {
	t.Helper()
	if s.missing != "" {
		t.Skipf("SKIPPED: no kube-apiserver: %s", s.missing)
	}
}

func (s *Server) start() error {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		return fmt.Errorf("KUBEBUILDER_ASSETS is not set; run `export KUBEBUILDER_ASSETS=$(scripts/k8s/build)` (or scripts/test)")
	}
	for _, b := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, b)); err != nil {
			return fmt.Errorf("%s missing in KUBEBUILDER_ASSETS=%s; run scripts/k8s/build", b, assets)
		}
	}
	crds, err := GatewayCRDs()
	if err != nil {
		return err
	}
	s.Env = &envtest.Environment{CRDDirectoryPaths: []string{crds}, ErrorIfCRDPathMissing: true}
	cfg, err := s.Env.Start()
	if err != nil {
		return fmt.Errorf("start kube-apiserver: %w", err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	s.Config = cfg
	if s.Kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return err
	}
	if s.Dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		return err
	}
	return s.warmUp()
}

// GatewayCRDs is the folder of the standard Gateway API CRDs in the module
// cache (the module deployctl builds against).
func GatewayCRDs() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api").Output()
	if err != nil {
		return "", fmt.Errorf("find sigs.k8s.io/gateway-api: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "config", "crd", "standard"), nil
}

// warmUp writes an HTTPRoute once: the first write to a just-installed CRD
// can take seconds, which would otherwise land in the first test.
func (s *Server) warmUp() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
		"metadata": map[string]any{"name": "warm-up"},
		"spec":     map[string]any{"rules": []any{map[string]any{}}},
	}}
	for {
		_, err := s.Dynamic.Resource(httpRoutes).Namespace("default").Create(ctx, u, metav1.CreateOptions{})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("warm-up write of an HTTPRoute: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Namespace creates a fresh namespace for t (deleted namespaces stay
// Terminating without controllers, so every test gets its own).
func (s *Server) Namespace(t testing.TB) string {
	t.Helper()
	s.Need(t)
	name := fmt.Sprintf("t%d-%s", s.seq.Add(1), sanitize(t.Name()))
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := s.Kube.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	return name
}

func sanitize(s string) string {
	s = strings.ToLower(s)
	b := []byte(s)
	for i, c := range b {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			b[i] = '-'
		}
	}
	s = strings.Trim(string(b), "-")
	if len(s) > 50 {
		s = strings.Trim(s[:50], "-")
	}
	return s
}

// Kubeconfig writes a kubeconfig for a user with the given groups
// ("system:masters" for an administrator, none for a user without rights)
// and returns its path.
func (s *Server) Kubeconfig(t testing.TB, name string, groups ...string) string {
	t.Helper()
	s.Need(t)
	u, err := s.Env.AddUser(envtest.User{Name: name, Groups: groups}, nil)
	if err != nil {
		t.Fatalf("add user %s: %v", name, err)
	}
	raw, err := u.KubeConfig()
	if err != nil {
		t.Fatalf("kubeconfig: %v", err)
	}
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(p, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// UserConfig is the rest config of a new user with the given groups.
func (s *Server) UserConfig(t testing.TB, name string, groups ...string) *rest.Config {
	t.Helper()
	s.Need(t)
	u, err := s.Env.AddUser(envtest.User{Name: name, Groups: groups}, nil)
	if err != nil {
		t.Fatalf("add user %s: %v", name, err)
	}
	return u.Config()
}
