package kubernetes

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"text/template"

	"gopkg.in/yaml.v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/deployctl/deployctl/pkg/provider"
)

// Values are what the manifest templates (templates/kubernetes/*.yaml) see.
type Values struct {
	Env, Namespace, App      string
	Mode, Route, Service     string
	Gateway, Hostname, Image string
	Replicas, Port           int
	ConfigMap, Secret        string
	HealthPath               string
	ReadinessPath            string
	MaintenanceService       string
	RetryAfter               int // seconds, on the maintenance page
	ActiveSlot               provider.Slot
	Slots                    []SlotValues
}

// SlotValues are one slot's names and its initial weight.
type SlotValues struct {
	Slot                provider.Slot
	Service, Deployment string
	Weight              int
}

// ValuesFor fills the values of an environment with the reference
// deployment's defaults: 2 replicas on port 3000, all traffic on blue.
func ValuesFor(env string, s Settings) Values {
	app := firstOf(s.Route, s.Service, "app")
	v := Values{
		Env: env, Namespace: firstOf(s.Namespace, "default"), App: app, Mode: firstOf(s.Mode, ModeGateway),
		Route: s.Route, Service: s.Service, Gateway: "gateway", Image: app + ":" + env,
		Replicas: 2, Port: 3000, ConfigMap: app + "-config", Secret: app + "-secrets",
		HealthPath: "/health", ReadinessPath: "/health/readiness",
		MaintenanceService: s.MaintenanceService, RetryAfter: 600, ActiveSlot: provider.Blue,
	}
	for _, sl := range provider.Slots {
		o := s.Slots.Of(sl)
		w := 0
		if sl == v.ActiveSlot {
			w = 100
		}
		v.Slots = append(v.Slots, SlotValues{Slot: sl, Service: o.Service, Deployment: o.Deployment, Weight: w})
	}
	return v
}

func firstOf(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// File is one rendered manifest file.
type File struct {
	Name    string
	Content []byte
}

// Render executes every *.yaml template in fsys's top folder, in name
// order, and checks that each result is well-formed YAML.
func Render(fsys fs.FS, v Values) ([]File, error) {
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("no *.yaml templates found")
	}
	var out []File
	for _, n := range names {
		raw, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		t, err := template.New(n).Option("missingkey=error").Parse(string(raw))
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", n, err)
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, v); err != nil {
			return nil, fmt.Errorf("template %s: %w", n, err)
		}
		content := bytes.TrimLeft(buf.Bytes(), "\n")
		if _, err := Objects(content); err != nil {
			return nil, fmt.Errorf("template %s renders invalid YAML: %w", path.Base(n), err)
		}
		out = append(out, File{Name: n, Content: content})
	}
	return out, nil
}

// Objects parses a multi-document manifest into API objects, skipping
// empty documents.
func Objects(manifest []byte) ([]*unstructured.Unstructured, error) {
	dec := yaml.NewDecoder(bytes.NewReader(manifest))
	var out []*unstructured.Unstructured
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(doc) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: jsonCompatible(doc).(map[string]any)}
		if u.GetKind() == "" || u.GetName() == "" {
			return nil, fmt.Errorf("a document has no kind or metadata.name: %s", strings.TrimSpace(fmt.Sprint(doc))[:min(60, len(fmt.Sprint(doc)))])
		}
		out = append(out, u)
	}
}

// jsonCompatible turns yaml.v3 values into the types unstructured expects.
func jsonCompatible(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonCompatible(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = jsonCompatible(e)
		}
		return x
	case int:
		return int64(x)
	}
	return v
}

// CheckRender reports the settings the manifests need but s leaves empty.
func CheckRender(s Settings) error {
	if s.Mode == "" {
		s.Mode = ModeGateway
	}
	return s.check(true)
}
