package kubernetes

import (
	"fmt"
	"maps"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/deployctl/deployctl/pkg/debuglog"
	"github.com/deployctl/deployctl/pkg/provider"
)

// ClientOptions says which cluster to talk to. Empty fields follow kubectl's
// conventions: $KUBECONFIG, then ~/.kube/config, then the in-cluster
// service account; the kubeconfig's current context and its namespace.
type ClientOptions struct {
	Kubeconfig string
	Context    string
	Namespace  string
}

// Clients are the API clients of one cluster and the namespace to work in.
type Clients struct {
	Kube      kubernetes.Interface
	Dynamic   dynamic.Interface
	Namespace string
	Host      string // the API server, for messages
	// ExecPlugin is the kubeconfig's credential plugin command ("aws eks
	// get-token …"), for messages; empty without one.
	ExecPlugin string
}

// Raised from client-go's 5 QPS / burst 10, which throttles a rollout that
// polls readiness while it renews its lease.
const (
	clientQPS   = 50
	clientBurst = 100
	// A request that takes longer than this means the cluster is in trouble;
	// the caller reports it as unreachable.
	requestTimeout = 30 * time.Second
)

// NewClients builds the clients without contacting the cluster. A
// kubeconfig that is missing or lacks the context is a *provider.ConfigError
// (exit 2): retrying cannot help, the operator fixes the file or setting.
func NewClients(o ClientOptions) (*Clients, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.Kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: o.Context}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, kubeconfigError(rules, cc, o, err)
	}
	ns := o.Namespace
	if ns == "" {
		if ns, _, err = cc.Namespace(); err != nil || ns == "" {
			ns = "default"
		}
	}
	return ClientsFor(cfg, ns)
}

// kubeconfigError says which file or context is the problem and what to do.
func kubeconfigError(rules *clientcmd.ClientConfigLoadingRules, cc clientcmd.ClientConfig, o ClientOptions, err error) error {
	files := rules.GetLoadingPrecedence()
	if o.Kubeconfig != "" {
		files = []string{o.Kubeconfig}
		if _, serr := os.Stat(o.Kubeconfig); serr != nil {
			return &provider.ConfigError{Msg: fmt.Sprintf("kubernetes: the kubeconfig %s (traffic.kubernetes.kubeconfig) cannot be read; fix the path, or remove the setting to use $KUBECONFIG or ~/.kube/config", o.Kubeconfig), Err: serr}
		}
	}
	raw, rerr := cc.RawConfig()
	if clientcmd.IsEmptyConfig(err) || (rerr == nil && len(raw.Contexts) == 0 && len(raw.Clusters) == 0) {
		return &provider.ConfigError{Msg: fmt.Sprintf("kubernetes: no kubeconfig found (looked at %s and for an in-cluster service account); set KUBECONFIG or traffic.kubernetes.kubeconfig, or run `aws eks update-kubeconfig` (or your cluster's equivalent)", strings.Join(files, ", "))}
	}
	if o.Context != "" && rerr == nil && raw.Contexts[o.Context] == nil {
		known := slices.Sorted(maps.Keys(raw.Contexts))
		return &provider.ConfigError{Msg: fmt.Sprintf("kubernetes: context %q (traffic.kubernetes.context) is not in the kubeconfig %s; use one of %v (kubectl config get-contexts)", o.Context, strings.Join(files, ", "), known)}
	}
	return &provider.ConfigError{Msg: fmt.Sprintf("kubernetes: no usable kubeconfig in %s; fix it (kubectl config view), or set KUBECONFIG, traffic.kubernetes.kubeconfig or .context", strings.Join(files, ", ")), Err: err}
}

// ClientsFor builds the clients from a rest config (tests use this too).
func ClientsFor(cfg *rest.Config, namespace string) (*Clients, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = clientQPS, clientBurst
	if cfg.Timeout == 0 {
		cfg.Timeout = requestTimeout
	}
	cfg.UserAgent = "deployctl"
	if debuglog.On() { // -v: every API call (the bearer token is a header, never logged)
		cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return debuglog.Transport(rt) })
	}
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return &Clients{Kube: kc, Dynamic: dc, Namespace: namespace, Host: cfg.Host, ExecPlugin: execCommand(cfg.ExecProvider)}, nil
}

// secretArg are flags whose value execCommand hides.
var secretArg = regexp.MustCompile(`(?i)token|secret|password|key`)

// execCommand is the credential plugin's command line for messages, with
// the values of secret-looking flags hidden.
func execCommand(e *clientcmdapi.ExecConfig) string {
	if e == nil {
		return ""
	}
	out := []string{e.Command}
	hide := false
	for _, a := range e.Args {
		switch {
		case hide:
			out, hide = append(out, "***"), false
		case strings.HasPrefix(a, "-") && secretArg.MatchString(a) && strings.Contains(a, "="):
			out = append(out, a[:strings.Index(a, "=")+1]+"***")
		default:
			out = append(out, a)
			hide = strings.HasPrefix(a, "-") && secretArg.MatchString(a)
		}
	}
	return strings.Join(out, " ")
}
