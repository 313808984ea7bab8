// Package kubernetes is the provider family for environments that run on a
// Kubernetes cluster: traffic through a Gateway API HTTPRoute (or a Service
// selector switch), slot readiness and images from Deployments, maintenance
// by re-pointing the route, and the lock, state and history as a Lease and
// ConfigMaps in the environment's namespace, so that operators on different
// machines coordinate. Clients are built inside the constructors only: a
// command that does not need the cluster never touches a kubeconfig.
package kubernetes

import (
	"context"
	"fmt"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
)

// Modes of traffic switching.
const (
	ModeGateway = "gateway" // HTTPRoute backendRefs weights
	ModeService = "service" // one Service's selector, 0/100 only
)

// Settings is the traffic.kubernetes section of an environment file.
type Settings struct {
	Kubeconfig         string `mapstructure:"kubeconfig"`
	Context            string `mapstructure:"context"`
	Namespace          string `mapstructure:"namespace"`
	Mode               string `mapstructure:"mode"`
	Route              string `mapstructure:"route"`
	Service            string `mapstructure:"service"`
	Slots              Slots  `mapstructure:"slots"`
	MaintenanceService string `mapstructure:"maintenance_service"`
	// StatusTimeout bounds the wait for the Gateway controllers to confirm
	// a weight change in the HTTPRoute's status (default 30s).
	StatusTimeout time.Duration `mapstructure:"status_timeout"`
}

// Validate checks the settings that need no cluster, when the file loads.
func (s *Settings) Validate() error {
	if s.StatusTimeout < 0 {
		return &provider.ConfigError{Msg: fmt.Sprintf("traffic.kubernetes.status_timeout %s is negative; use a duration such as 30s", s.StatusTimeout)}
	}
	return nil
}

// Slots names the Kubernetes objects of each slot.
type Slots struct {
	Blue  SlotObjects `mapstructure:"blue"`
	Green SlotObjects `mapstructure:"green"`
}

// SlotObjects are the Service and Deployment of one slot.
type SlotObjects struct {
	Service    string `mapstructure:"service"`
	Deployment string `mapstructure:"deployment"`
}

// Of returns the objects of slot s.
func (s Slots) Of(slot provider.Slot) SlotObjects {
	if slot == provider.Green {
		return s.Green
	}
	return s.Blue
}

// Family returns the kubernetes provider family.
func Family() *provider.Family {
	return &provider.Family{
		Name:          "kubernetes",
		TrafficConfig: &provider.Section{Name: "kubernetes", Settings: func() any { return &Settings{Mode: ModeGateway, StatusTimeout: DefaultStatusTimeout} }},
		Traffic:       newTraffic,
		Maintenance:   newMaintenance,
		Locker:        newLocker,
		State:         newState,
		History:       newHistory,
		Variables: map[string]func(context.Context, provider.Env, provider.Decode) (provider.VariableSource, error){
			"kubernetes": newVariables,
		},
	}
}

func decodeSettings(d provider.Decode) (Settings, error) {
	var s Settings
	if err := d(&s); err != nil {
		return s, err
	}
	if s.Mode == "" {
		s.Mode = ModeGateway
	}
	return s, nil
}

// check reports the settings an ability needs but the file leaves empty.
func (s Settings) check(needRoute bool) error {
	var missing []string
	if needRoute && s.Mode == ModeGateway && s.Route == "" {
		missing = append(missing, "route")
	}
	if needRoute && s.Mode == ModeService && s.Service == "" {
		missing = append(missing, "service")
	}
	for _, sl := range provider.Slots {
		o := s.Slots.Of(sl)
		if o.Service == "" && s.Mode == ModeGateway {
			missing = append(missing, "slots."+string(sl)+".service")
		}
		if o.Deployment == "" {
			missing = append(missing, "slots."+string(sl)+".deployment")
		}
	}
	if s.Mode != ModeGateway && s.Mode != ModeService {
		return fmt.Errorf("traffic.kubernetes.mode %q is not one of gateway, service", s.Mode)
	}
	if len(missing) > 0 {
		return fmt.Errorf("traffic.kubernetes: set %v in the environment file", missing)
	}
	return nil
}

func newTraffic(ctx context.Context, env provider.Env, d provider.Decode) (provider.TrafficRouter, error) {
	s, c, err := settingsAndClients(d, true)
	if err != nil {
		return nil, err
	}
	if s.Mode == ModeService {
		return &ServiceRouter{Clients: c, Settings: s, Notef: env.Notef}, nil
	}
	return &Router{Clients: c, Settings: s, Notef: env.Notef}, nil
}

func newMaintenance(ctx context.Context, env provider.Env, d provider.Decode) (provider.MaintenanceSwitch, error) {
	s, c, err := settingsAndClients(d, true)
	if err != nil {
		return nil, err
	}
	if s.Mode != ModeGateway {
		return nil, fmt.Errorf("maintenance: %w in mode %q: it re-points the HTTPRoute; use mode gateway", provider.ErrUnsupported, s.Mode)
	}
	if s.MaintenanceService == "" {
		return nil, fmt.Errorf("traffic.kubernetes: set maintenance_service in the environment file (deployctl render provides one)")
	}
	h := env.Health.WithDefaults()
	return &Maintenance{Router: &Router{Clients: c, Settings: s, Notef: env.Notef}, HealthPaths: []string{h.Path, h.ReadinessPath}}, nil
}

func newLocker(ctx context.Context, env provider.Env, d provider.Decode) (provider.Locker, error) {
	_, c, err := settingsAndClients(d, false)
	if err != nil {
		return nil, err
	}
	l := NewLocker(c, env.Name)
	l.Notef = env.Notef
	return l, nil
}

func newState(ctx context.Context, env provider.Env, d provider.Decode) (provider.StateStore, error) {
	_, c, err := settingsAndClients(d, false)
	if err != nil {
		return nil, err
	}
	return &StateStore{Clients: c, Env: env.Name}, nil
}

func newHistory(ctx context.Context, env provider.Env, d provider.Decode) (provider.HistoryLog, error) {
	_, c, err := settingsAndClients(d, false)
	if err != nil {
		return nil, err
	}
	return &HistoryLog{Clients: c, Env: env.Name}, nil
}

func settingsAndClients(d provider.Decode, needObjects bool) (Settings, *Clients, error) {
	s, err := decodeSettings(d)
	if err != nil {
		return s, nil, err
	}
	if needObjects {
		if err := s.check(true); err != nil {
			return s, nil, err
		}
	}
	c, err := NewClients(ClientOptions{Kubeconfig: s.Kubeconfig, Context: s.Context, Namespace: s.Namespace})
	return s, c, err
}
