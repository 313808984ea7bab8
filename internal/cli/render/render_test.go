package render

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/testkit/cmdtest"
	"github.com/deployctl/deployctl/pkg/provider/kubernetes"
	"github.com/deployctl/deployctl/pkg/provider/kubernetes/kubetest"
)

var srv kubetest.Server

func TestMain(m *testing.M) { kubetest.Main(m, &srv) }

// repoTemplates is templates/kubernetes of this repository.
func repoTemplates(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "templates", "kubernetes")
}

func project(t *testing.T, env, ns, mode string) (*app.Factory, *strings.Builder) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "environments")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	yaml := `traffic:
  provider: kubernetes
  kubernetes:
    namespace: ` + ns + `
    mode: ` + mode + `
    route: api
    service: api
    slots: {blue: {service: api-blue, deployment: api-blue}, green: {service: api-green, deployment: api-green}}
    maintenance_service: api-maintenance
variables:
  sources: [{type: kubernetes, configmap: api-env, secret: api-env-secrets}]
health: {path: /healthz, readiness_path: /ready}
`
	if err := os.WriteFile(filepath.Join(dir, env+".yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	f := cmdtest.Factory()
	sb := &strings.Builder{}
	f.IO.Out = sb
	f.Flags.Env, f.Flags.ConfigDir = env, dir
	return f, sb
}

func TestParseRender(t *testing.T) {
	var got *Options
	f, _ := project(t, "staging", "api", "gateway")
	err := cmdtest.Execute(NewCmdRender(f, func(o *Options) error { got = o; return nil }),
		"--out", "deploy", "--image", "reg/api:2", "--gateway", "gw", "--hostname", "api.example.com", "--templates", "t")
	if err != nil || got.Out != "deploy" || got.Image != "reg/api:2" || got.Gateway != "gw" || got.Hostname != "api.example.com" || got.Templates != "t" {
		t.Fatalf("%+v, %v", got, err)
	}
	if err := cmdtest.Execute(NewCmdRender(f, func(*Options) error { return nil }), "extra"); app.ExitCode(err) != 2 {
		t.Fatalf("positional argument: %v", err)
	}
}

func TestRenderRefusesMissingNames(t *testing.T) {
	f, _ := project(t, "staging", "api", "gateway")
	dir := f.Flags.ConfigDir
	if err := os.WriteFile(filepath.Join(dir, "bare.yaml"), []byte("traffic: {provider: kubernetes}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.Flags.Env = "bare"
	err := cmdtest.Execute(NewCmdRender(f, nil), "--templates", repoTemplates(t))
	if app.ExitCode(err) != 2 || !strings.Contains(err.Error(), "route") {
		t.Fatalf("err = %v", err)
	}
}

// The rendered manifests pass the API server's own validation, with the
// Gateway API CRDs installed: a server-side dry run of every object.
func TestRenderedManifestsPassServerSideDryRun(t *testing.T) {
	for _, mode := range []string{"gateway", "service"} {
		t.Run(mode, func(t *testing.T) {
			ns := srv.Namespace(t)
			f, _ := project(t, "staging", ns, mode)
			dir := filepath.Join(t.TempDir(), "out")
			if err := cmdtest.Execute(NewCmdRender(f, nil), "--templates", repoTemplates(t), "--out", dir, "--image", "reg/api:1.4.2"); err != nil {
				t.Fatal(err)
			}
			kinds := dryRunAll(t, dir, ns)
			want := "ConfigMap Deployment Deployment Deployment HTTPRoute PodDisruptionBudget PodDisruptionBudget Service Service Service"
			if mode == "service" {
				want = strings.Replace(want, "HTTPRoute", "Service", 1)
			}
			if kinds != sortWords(want) {
				t.Fatalf("kinds = %s, want %s", kinds, want)
			}
		})
	}
}

func TestRenderUsesEnvironmentNames(t *testing.T) {
	f, out := project(t, "staging", "api", "gateway")
	if err := cmdtest.Execute(NewCmdRender(f, nil), "--templates", repoTemplates(t)); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"configMapRef: {name: api-env}", "secretRef: {name: api-env-secrets}", "path: /healthz", "path: /ready", "image: api:staging",
		"{name: api-blue, port: 80, weight: 100}", "{name: api-green, port: 80, weight: 0}", "replicas: 2", "memory: 512Mi", "Retry-After 600"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func dryRunAll(t *testing.T, dir, ns string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	var kinds []string
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := kubernetes.Objects(raw)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, o := range objs {
			gvk := o.GroupVersionKind()
			gvr := schema.GroupVersionResource{Group: gvk.Group, Version: gvk.Version, Resource: resource(gvk.Kind)}
			_, err := srv.Dynamic.Resource(gvr).Namespace(ns).Create(t.Context(), o, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"})
			if err != nil {
				t.Errorf("%s %s: server-side dry run: %v", o.GetKind(), o.GetName(), err)
			}
			kinds = append(kinds, o.GetKind())
		}
	}
	return sortWords(strings.Join(kinds, " "))
}

func resource(kind string) string {
	return map[string]string{
		"Deployment": "deployments", "Service": "services", "ConfigMap": "configmaps",
		"HTTPRoute": "httproutes", "PodDisruptionBudget": "poddisruptionbudgets",
	}[kind]
}

func sortWords(s string) string {
	w := strings.Fields(s)
	for i := range w {
		for j := i + 1; j < len(w); j++ {
			if w[j] < w[i] {
				w[i], w[j] = w[j], w[i]
			}
		}
	}
	return strings.Join(w, " ")
}

// Without a templates/kubernetes folder in the project, render uses the
// built-in copies, which are the repository's own files.
func TestRenderBuiltinTemplatesMatchRepository(t *testing.T) {
	f, builtin := project(t, "staging", "api", "gateway")
	if err := cmdtest.Execute(NewCmdRender(f, nil)); err != nil {
		t.Fatal(err)
	}
	g, repo := project(t, "staging", "api", "gateway")
	if err := cmdtest.Execute(NewCmdRender(g, nil), "--templates", repoTemplates(t)); err != nil {
		t.Fatal(err)
	}
	if builtin.String() == "" || builtin.String() != repo.String() {
		t.Fatalf("built-in output differs from the repository's templates:\n%s", builtin.String())
	}
}

// render -o json writes one Kubernetes List in JSON with every manifest of
// the YAML stream (it printed YAML, finding 10 of the operator-experience
// issue).
func TestRenderJSONIsAList(t *testing.T) {
	f, out := project(t, "staging", "shop", "gateway")
	f.Flags.Output = "json"
	if err := cmdtest.Execute(NewCmdRender(f, nil), "--templates", repoTemplates(t)); err != nil {
		t.Fatal(err)
	}
	var list struct {
		Kind  string `json:"kind"`
		Items []struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out.String()), &list); err != nil {
		t.Fatalf("not JSON: %v\n%.300s", err, out.String())
	}
	var kinds []string
	for _, it := range list.Items {
		kinds = append(kinds, it.Kind)
	}
	want := sortWords("ConfigMap Deployment Deployment Deployment HTTPRoute PodDisruptionBudget PodDisruptionBudget Service Service Service")
	if list.Kind != "List" || sortWords(strings.Join(kinds, " ")) != want {
		t.Fatalf("list %s of %v, want %s", list.Kind, kinds, want)
	}
	f.Flags.Output = "json"
	if err := cmdtest.Execute(NewCmdRender(f, nil), "--templates", repoTemplates(t), "--out", t.TempDir()); app.ExitCode(err) != 2 {
		t.Fatalf("-o json with --out: %v, want exit 2", err)
	}
}
