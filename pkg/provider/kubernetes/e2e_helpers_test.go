package kubernetes

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The built deployctl binary, once per test package.
var binary struct {
	once sync.Once
	path string
	err  error
}

func deployctl(t testing.TB) string {
	t.Helper()
	binary.once.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..", "..")
		dir, err := os.MkdirTemp("", "kube-e2e")
		if err != nil {
			binary.err = err
			return
		}
		binary.path = filepath.Join(dir, "deployctl")
		cmd := exec.Command("go", "build", "-o", binary.path, "./cmd/deployctl")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			binary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

// operator is somebody running deployctl against the test cluster from
// their own project folder, with their own kubeconfig.
type operator struct {
	t     testing.TB
	dir   string
	actor string
	env   []string
}

// newOperator writes environments/staging.yaml for namespace ns and
// kubeconfig kc; extra is appended to the file (variables, …).
func newOperator(t testing.TB, actor, ns, kc, mode, extra string) *operator {
	t.Helper()
	dir := t.TempDir()
	yaml := fmt.Sprintf(`traffic:
  provider: kubernetes
  kubernetes:
    kubeconfig: %s
    namespace: %s
    mode: %s
    route: api
    service: api
    slots: {blue: {service: api-blue, deployment: api-blue}, green: {service: api-green, deployment: api-green}}
    maintenance_service: api-maintenance
%s`, kc, ns, mode, extra)
	if err := os.MkdirAll(filepath.Join(dir, "environments"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "environments", "staging.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "DEPLOYCTL_ACTOR="+actor, "DEPLOYCTL_ENV=staging", "NO_COLOR=1", "KUBECONFIG=/nonexistent")
	return &operator{t: t, dir: dir, actor: actor, env: env}
}

type result struct {
	code        int
	out, errOut string
	took        time.Duration
}

func (o *operator) run(args ...string) result {
	o.t.Helper()
	cmd := exec.Command(deployctl(o.t), args...)
	cmd.Dir, cmd.Env = o.dir, o.env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	r := result{out: out.String(), errOut: errOut.String(), took: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		o.t.Fatalf("run %v: %v", args, err)
	}
	return r
}

func (o *operator) must(args ...string) result {
	o.t.Helper()
	r := o.run(args...)
	if r.code != 0 {
		o.t.Fatalf("deployctl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.out, r.errOut)
	}
	return r
}

func rbacGVR(resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: resource}
}

// writeKubeconfig points a kubeconfig at server (for an unreachable cluster).
func writeKubeconfig(t testing.TB, server string) string {
	t.Helper()
	kc := `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "` + server + `", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(p, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
