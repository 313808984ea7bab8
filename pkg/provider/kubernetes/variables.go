package kubernetes

import (
	"context"
	"fmt"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deployctl/deployctl/pkg/provider"
)

// VariableSettings is a `type: kubernetes` entry of variables.sources.
type VariableSettings struct {
	Type       string `mapstructure:"type"`
	ConfigMap  string `mapstructure:"configmap"`
	Secret     string `mapstructure:"secret"`
	Namespace  string `mapstructure:"namespace"`
	Kubeconfig string `mapstructure:"kubeconfig"`
	Context    string `mapstructure:"context"`
	// Optional: a missing ConfigMap or Secret counts as empty instead of
	// failing, as envFrom's optional: true.
	Optional bool `mapstructure:"optional"`
}

// Variables reads the application's variables the way a Deployment's
// envFrom does: the ConfigMap's keys, then the Secret's (which win).
type Variables struct {
	Clients  *Clients
	Settings VariableSettings
}

var _ provider.VariableSource = (*Variables)(nil)

func newVariables(ctx context.Context, env provider.Env, d provider.Decode) (provider.VariableSource, error) {
	var s VariableSettings
	if err := d(&s); err != nil {
		return nil, err
	}
	if s.ConfigMap == "" && s.Secret == "" {
		return nil, fmt.Errorf("variables source kubernetes: set configmap, secret or both")
	}
	c, err := NewClients(ClientOptions{Kubeconfig: s.Kubeconfig, Context: s.Context, Namespace: s.Namespace})
	if err != nil {
		return nil, err
	}
	return &Variables{Clients: c, Settings: s}, nil
}

// Load returns the variables, sorted by name within each object.
func (v *Variables) Load(ctx context.Context) ([]provider.Variable, error) {
	var out []provider.Variable
	ns := v.Clients.Namespace
	if name := v.Settings.ConfigMap; name != "" {
		cm, err := v.Clients.Kube.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		if err = v.missing(err, object{Kind: "ConfigMap", Namespace: ns, Name: name}); err != nil {
			return nil, err
		}
		if cm != nil {
			out = append(out, vars(cm.Data, "kubernetes:configmap/"+name)...)
		}
	}
	if name := v.Settings.Secret; name != "" {
		sec, err := v.Clients.Kube.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		if err = v.missing(err, object{Kind: "Secret", Namespace: ns, Name: name}); err != nil {
			return nil, err
		}
		if sec != nil {
			data := map[string]string{}
			for k, b := range sec.Data {
				data[k] = string(b)
			}
			out = append(out, vars(data, "kubernetes:secret/"+name)...)
		}
	}
	return out, nil
}

func (v *Variables) missing(err error, o object) error {
	err = v.Clients.explain(err, "read", o)
	if err != nil && v.Settings.Optional && isNotFound(err) {
		return nil
	}
	return err
}

func vars(data map[string]string, source string) []provider.Variable {
	names := make([]string, 0, len(data))
	for k := range data {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]provider.Variable, 0, len(names))
	for _, k := range names {
		out = append(out, provider.Variable{Name: k, Value: data[k], Source: source})
	}
	return out
}
