package kubernetes

import (
	"fmt"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
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

// NewClients builds the clients without contacting the cluster.
func NewClients(o ClientOptions) (*Clients, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.Kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: o.Context}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubernetes: no usable kubeconfig (%v); set KUBECONFIG, traffic.kubernetes.kubeconfig or .context, or run inside the cluster", err)
	}
	ns := o.Namespace
	if ns == "" {
		if ns, _, err = cc.Namespace(); err != nil || ns == "" {
			ns = "default"
		}
	}
	return ClientsFor(cfg, ns)
}

// ClientsFor builds the clients from a rest config (tests use this too).
func ClientsFor(cfg *rest.Config, namespace string) (*Clients, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = clientQPS, clientBurst
	if cfg.Timeout == 0 {
		cfg.Timeout = requestTimeout
	}
	cfg.UserAgent = "deployctl"
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return &Clients{Kube: kc, Dynamic: dc, Namespace: namespace, Host: cfg.Host}, nil
}
