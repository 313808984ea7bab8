// Package proxy is the local provider's data plane and its control: a
// reverse proxy in front of the two slots that applies the weights and the
// maintenance switch of a state document, and the Router through which
// commands change that document and wait for the proxy's acknowledgement.
//
// Requests are served on two paths: plain HTTP/1.1 requests by a small
// relay of the proxy's own (fast.go, head.go), everything else by net/http
// and httputil.ReverseProxy (handler.go), to which the relay hands the
// connection with the bytes it already read.
//
// Each slot is served from a URL: traffic.local.slots.<slot>.url, unless
// the state document points the slot elsewhere (slots.<slot>.url, written
// by `release --slot-url`, Router.SetSlotURL). The state's URL wins over
// the environment file's until it is changed or removed; the ack and
// `rollout status` show the URL each slot is served from (backend.go).
//
// Files in the environment's state folder:
//
//	state/proxy.json   the desired state (weights, maintenance, slot URLs), written by commands
//	proxy.lock         flock held by the running proxy: "a proxy is running"
//	proxy.ack.json     what the running proxy serves now, and its revision
package proxy

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
)

// Format is the version of the state and acknowledgement documents this
// build writes. A newer build may add fields; this one keeps them when it
// rewrites the document and reads the fields it knows.
const Format = 1

// StateKey is the proxy's document in the environment's StateStore.
const StateKey = "proxy"

// Doc is the desired state of the proxy.
type Doc struct {
	Format      int                       `json:"format"`
	Revision    int64                     `json:"revision"`
	Weights     provider.Weights          `json:"weights"`
	Maintenance provider.MaintenanceState `json:"maintenance"`
	// Slots points slots at other URLs than the environment file's
	// (SetSlotURL); a slot without an entry is served from its setting.
	Slots     map[provider.Slot]SlotDoc `json:"slots,omitempty"`
	UpdatedAt time.Time                 `json:"updated_at,omitempty"`

	extra map[string]json.RawMessage // fields of a newer format, kept as they are
}

// SlotDoc is where the state document sends one slot's traffic.
type SlotDoc struct {
	URL string `json:"url"`
}

// DefaultDoc is the state before the first change: everything to blue.
func DefaultDoc() *Doc {
	return &Doc{Format: Format, Weights: provider.Weights{provider.Blue: 100, provider.Green: 0}}
}

type docFields Doc // without methods, for the default encoding

// UnmarshalJSON reads the known fields and keeps the others.
func (d *Doc) UnmarshalJSON(b []byte) error {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	var f docFields
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	for _, k := range []string{"format", "revision", "weights", "maintenance", "slots", "updated_at"} {
		delete(all, k)
	}
	*d = Doc(f)
	d.extra = all
	return nil
}

// MarshalJSON writes the known fields and the kept ones.
func (d Doc) MarshalJSON() ([]byte, error) {
	known, err := json.Marshal(docFields(d))
	if err != nil || len(d.extra) == 0 {
		return known, err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(known, &all); err != nil {
		return nil, err
	}
	for k, v := range d.extra {
		if _, ok := all[k]; !ok {
			all[k] = v
		}
	}
	return json.Marshal(all)
}

// ParseDoc decodes and checks a state document.
func ParseDoc(data []byte) (*Doc, error) {
	d := &Doc{}
	if err := json.Unmarshal(data, d); err != nil {
		return nil, err
	}
	if d.Weights == nil {
		d.Weights = DefaultDoc().Weights
	}
	if err := d.Weights.Validate(); err != nil {
		return nil, err
	}
	for slot, sd := range d.Slots {
		if !slot.Valid() {
			return nil, fmt.Errorf("slots: unknown slot %q (slots: blue, green)", slot)
		}
		if _, err := ParseSlotURL(sd.URL); err != nil {
			return nil, fmt.Errorf("slots.%s.url: %w", slot, err)
		}
	}
	return d, nil
}

// Ack is what the running proxy serves, written after each change it applies.
type Ack struct {
	Format      int                       `json:"format"`
	PID         int                       `json:"pid"`
	Listen      string                    `json:"listen"`
	StartedAt   time.Time                 `json:"started_at"`
	Revision    int64                     `json:"revision"`
	Weights     provider.Weights          `json:"weights"`
	Maintenance provider.MaintenanceState `json:"maintenance"`
	// Slots are the URLs the proxy sends each slot's traffic to since this
	// revision, passwords redacted; absent from a proxy older than slot URLs.
	Slots     map[provider.Slot]AckSlot `json:"slots,omitempty"`
	AppliedAt time.Time                 `json:"applied_at"`
}

// AckSlot is where the running proxy sends one slot's traffic.
type AckSlot struct {
	URL string `json:"url"`
	// Override says the URL is the state document's, not the environment
	// file's traffic.local.slots.<slot>.url.
	Override bool `json:"override,omitempty"`
}

// Paths are the proxy's files in an environment's state folder.
type Paths struct{ Root string }

func (p Paths) Lock() string     { return filepath.Join(p.Root, "proxy.lock") }
func (p Paths) Ack() string      { return filepath.Join(p.Root, "proxy.ack.json") }
func (p Paths) StateDir() string { return filepath.Join(p.Root, "state") }
