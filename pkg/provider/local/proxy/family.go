package proxy

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/local/statefs"
)

// Settings is the traffic.local section of an environment file.
type Settings struct {
	Listen string `mapstructure:"listen"`
	Sticky bool   `mapstructure:"sticky"`
	// FastPath is traffic.local.fast_path, on by default (see fastServer).
	FastPath bool `mapstructure:"fast_path"`
	// EventLoops is traffic.local.event_loops: auto (one per CPU), off (a
	// goroutine per connection) or a number; see ParseEventLoops.
	EventLoops string `mapstructure:"event_loops"`
	// Limits are the timeouts and the connection limit (limits.go).
	Limits `mapstructure:",squash"`
	Slots  struct {
		Blue  SlotSettings `mapstructure:"blue"`
		Green SlotSettings `mapstructure:"green"`
	} `mapstructure:"slots"`
}

// SlotSettings is where one slot listens.
type SlotSettings struct {
	URL string `mapstructure:"url"`
}

// DefaultSettings is traffic.local of an environment file that says
// nothing: the proxy on 8080 in front of slots on 3001 and 3002.
func DefaultSettings() *Settings {
	s := &Settings{Listen: "127.0.0.1:8080", FastPath: true, EventLoops: "auto", Limits: Limits{}.defaultTimeouts()}
	s.Slots.Blue.URL, s.Slots.Green.URL = "http://127.0.0.1:3001", "http://127.0.0.1:3002"
	return s
}

// URL returns the configured URL of slot s.
func (s *Settings) URL(slot provider.Slot) string {
	if slot == provider.Green {
		return s.Slots.Green.URL
	}
	return s.Slots.Blue.URL
}

// Validate checks both slot URLs, the event loops and the limits.
func (s *Settings) Validate() error {
	_, err := s.check()
	return err
}

// check is Validate, returning the parsed slot URLs.
func (s *Settings) check() (map[provider.Slot]*url.URL, error) {
	urls := map[provider.Slot]*url.URL{}
	for _, slot := range provider.Slots {
		raw := s.URL(slot)
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("traffic.local.slots.%s.url %q must be an http(s) URL", slot, raw)
		}
		urls[slot] = u
	}
	if _, err := ParseEventLoops(s.EventLoops); err != nil {
		return nil, err
	}
	if err := s.Limits.check(); err != nil {
		return nil, err
	}
	return urls, nil
}

// DecodeSettings reads traffic.local and checks it (Validate).
func DecodeSettings(d provider.Decode) (*Settings, map[provider.Slot]*url.URL, error) {
	s := DefaultSettings()
	if err := d(s); err != nil {
		return nil, nil, err
	}
	urls, err := s.check()
	if err != nil {
		return nil, nil, err
	}
	return s, urls, nil
}

// NewRouterFor builds the Router of an environment: its health section
// probes the slots and its notes reach the operator.
func NewRouterFor(env provider.Env, d provider.Decode) (*Router, error) {
	_, urls, err := DecodeSettings(d)
	if err != nil {
		return nil, err
	}
	slots := map[provider.Slot]string{}
	for s, u := range urls {
		slots[s] = u.String()
	}
	r := NewRouter(statefs.Root(env.StateDir, env.Name), slots)
	r.Health, r.Notef, r.Env = env.Health.WithDefaults(), env.Notef, env.Name
	return r, nil
}

// NewTraffic is the local family's TrafficRouter.
func NewTraffic(_ context.Context, env provider.Env, d provider.Decode) (provider.TrafficRouter, error) {
	return NewRouterFor(env, d)
}

// NewMaintenance is the local family's MaintenanceSwitch.
func NewMaintenance(_ context.Context, env provider.Env, d provider.Decode) (provider.MaintenanceSwitch, error) {
	return NewRouterFor(env, d)
}

// ParseEventLoops reads traffic.local.event_loops as Server.EventLoops:
// "" or "auto" is 0 (one loop per CPU), "off" is -1, a positive number is
// that many loops.
func ParseEventLoops(v string) (int, error) {
	switch v {
	case "", "auto":
		return 0, nil
	case "off":
		return -1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("traffic.local.event_loops %q: use auto, off or a number of loops", v)
	}
	return n, nil
}
