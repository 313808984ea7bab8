// Package provider holds the small interfaces the engines need from the world
// (traffic, maintenance, locks, state, history, backups, variables) and the
// explicit registry of provider families. Engines depend on these interfaces
// only; a provider family implements the abilities it has and returns
// ErrUnsupported for the others.
package provider

import (
	"context"
	"io"
	"net/url"
	"time"
)

// Slot is one of the two blue-green slots.
type Slot string

const (
	Blue  Slot = "blue"
	Green Slot = "green"
)

// Slots lists the slots in their canonical order.
var Slots = []Slot{Blue, Green}

// Other returns the opposite slot.
func (s Slot) Other() Slot {
	if s == Blue {
		return Green
	}
	return Blue
}

// Valid reports whether s names a slot.
func (s Slot) Valid() bool { return s == Blue || s == Green }

// Weights is the share of traffic of each slot in percent; they sum to 100.
type Weights map[Slot]int

// SlotStatus is what a provider knows of one slot.
type SlotStatus struct {
	Slot    Slot          `json:"slot"`
	Ready   bool          `json:"ready"`
	Version string        `json:"version,omitempty"` // version answered by the slot, or image
	Detail  string        `json:"detail,omitempty"`  // for people: why not ready, replicas, …
	Latency time.Duration `json:"latency_ns,omitempty"`
}

// TrafficRouter shifts traffic between the slots.
type TrafficRouter interface {
	// Weights returns the weights as the data plane serves them.
	Weights(ctx context.Context) (Weights, error)
	// SetWeights returns once the data plane serves w.
	SetWeights(ctx context.Context, w Weights) error
	// Slot reports readiness and version of one slot.
	Slot(ctx context.Context, s Slot) (SlotStatus, error)
}

// DataPlane is the optional ability of a TrafficRouter to say whether its
// data plane serves. The local proxy can be stopped while the weights it
// will serve are stored: its Weights are then the stored ones, not read
// back from a running data plane. Kubernetes and ALB read the weights from
// the service itself and need no such check.
type DataPlane interface {
	DataPlane(ctx context.Context) DataPlaneStatus
}

// DataPlaneStatus is whether the data plane serves, what it is, and when
// it does not, the command that starts it.
type DataPlaneStatus struct {
	Up     bool   `json:"up"`
	Detail string `json:"detail"`
	Start  string `json:"start,omitempty"`
}

// ImageSetter is the optional ability to change what a slot runs.
type ImageSetter interface {
	SetImage(ctx context.Context, s Slot, image string) error
}

// SlotURLSetter is the optional ability to point a slot at another URL,
// where the operator started the new version (`release --slot-url` on the
// local provider, whose slots are URLs, not deployments).
type SlotURLSetter interface {
	// SetSlotURL returns once the data plane sends s's traffic to url; an
	// unusable url is a *ConfigError, and nothing is changed.
	SetSlotURL(ctx context.Context, s Slot, url string) error
}

// SameSlotURL says whether a and b name the same slot URL, a path of "/"
// and none being the same: how a slot URL set and one recorded compare.
func SameSlotURL(a, b string) bool {
	ua, erra := url.Parse(a)
	ub, errb := url.Parse(b)
	if erra != nil || errb != nil {
		return a == b
	}
	for _, u := range []*url.URL{ua, ub} {
		if u.Path == "/" && u.RawPath == "" {
			u.Path = ""
		}
	}
	return ua.String() == ub.String()
}

// MaintenanceState is the maintenance switch as a data plane applies it.
type MaintenanceState struct {
	On      bool      `json:"on"`
	Message string    `json:"message,omitempty"`
	Since   time.Time `json:"since,omitempty"`
	Until   time.Time `json:"until,omitempty"` // zero: open-ended
	Allow   []string  `json:"allow,omitempty"` // CIDRs that pass through
	By      string    `json:"by,omitempty"`
	// Restore holds the weights to put back when maintenance ends, for
	// providers that implement maintenance by re-pointing traffic.
	Restore Weights `json:"restore,omitempty"`
}

// MaintenanceSwitch turns the maintenance page on and off.
type MaintenanceSwitch interface {
	Maintenance(ctx context.Context) (MaintenanceState, error)
	// SetMaintenance returns once the data plane applies st.
	SetMaintenance(ctx context.Context, st MaintenanceState) error
}

// Holder says who holds an environment's lock.
type Holder struct {
	Actor   string    `json:"actor"`
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	Reason  string    `json:"reason,omitempty"`
	Since   time.Time `json:"since"`
	Expires time.Time `json:"expires,omitempty"`
}

// Locker serialises the changing commands of one environment.
type Locker interface {
	// Acquire returns *LockedError when somebody else holds the lock.
	Acquire(ctx context.Context, h Holder) (release func() error, err error)
}

// LockInspector is the optional ability to tell who holds a lock now.
type LockInspector interface {
	Holder(ctx context.Context) (*Holder, error) // nil when free
}

// StateStore keeps small documents with compare-and-swap on a version.
type StateStore interface {
	// Load returns ErrNotFound when key has never been saved.
	Load(ctx context.Context, key string) (data []byte, version string, err error)
	// Save writes data if the stored version still equals version ("" for a
	// new key); otherwise it returns ErrConflict.
	Save(ctx context.Context, key string, data []byte, version string) error
}

// Entry is one line of the audit trail.
type Entry struct {
	Time    time.Time `json:"time"`
	Env     string    `json:"env,omitempty"`
	Actor   string    `json:"actor"`
	Command string    `json:"command"`
	Before  any       `json:"before,omitempty"`
	After   any       `json:"after,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Result  string    `json:"result"` // ok | failed | aborted | dry-run | …
	Detail  string    `json:"detail,omitempty"`
}

// Filter narrows a history listing; zero values match everything.
type Filter struct {
	Since   time.Time
	Command string // prefix match: "rollout" matches "rollout promote"
	Limit   int    // newest N; 0 for all
}

// HistoryLog is the append-only audit trail.
type HistoryLog interface {
	Append(ctx context.Context, e Entry) error
	List(ctx context.Context, f Filter) ([]Entry, error) // oldest first
}

// Object is one stored object of a BackupStore.
type Object struct {
	Name    string    `json:"name"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mod_time"`
}

// BackupStore stores backup objects as streams.
// StoreChecker is the optional ability of a BackupStore to tell a store
// that is not there (a folder that does not exist: an unmounted volume)
// from an empty one; CheckStore returns a *UnreachableError then.
type StoreChecker interface {
	CheckStore(ctx context.Context) error
}

type BackupStore interface {
	// Put streams r to name and publishes it atomically: a reader never sees
	// a partial object, and a failed or cancelled Put leaves nothing behind
	// under name.
	Put(ctx context.Context, name string, r io.Reader) error
	// Get returns ErrNotFound for a missing object.
	Get(ctx context.Context, name string) (io.ReadCloser, error)
	List(ctx context.Context, prefix string) ([]Object, error)
	// Delete is idempotent.
	Delete(ctx context.Context, name string) error
}

// Variable is one application variable and where it came from.
type Variable struct {
	Name   string
	Value  string
	Source string // "dotenv:.env:12", "process", "kubernetes:configmap/api-config", …
}

// VariableSource loads application variables from somewhere.
type VariableSource interface {
	Load(ctx context.Context) ([]Variable, error)
}
