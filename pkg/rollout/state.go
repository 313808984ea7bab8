// Package rollout shifts traffic between the blue and green slots: weights,
// promote, abort, and steps gated by analysis. It follows the flow of every
// changing command: lock → load state → preconditions → plan (dry-run stops)
// → apply → read back → save state → history → unlock. It knows providers
// only through pkg/provider's interfaces.
package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
)

// StateKey is the rollout's document in the environment's StateStore.
const StateKey = "rollout"

// Format is the version of the rollout state document.
const Format = 1

// State is what the rollout knows of an environment.
type State struct {
	Format    int              `json:"format"`
	Active    provider.Slot    `json:"active"`
	Candidate provider.Slot    `json:"candidate,omitempty"`
	Weights   provider.Weights `json:"weights"`
	Aborted   *Aborted         `json:"aborted,omitempty"`
	Revision  int64            `json:"revision"`
	Last      *Change          `json:"last_change,omitempty"`
	// Pending is a change that was being applied; a process killed in the
	// middle leaves it, and the next changing command repairs it.
	Pending *Pending `json:"pending,omitempty"`

	extra map[string]json.RawMessage // fields of a newer format, kept as they are
}

type stateFields State // without methods, for the default encoding

var knownFields = []string{"format", "active", "candidate", "weights", "aborted", "revision", "last_change", "pending"}

// UnmarshalJSON reads the known fields and keeps the others, so that an
// older deployctl rewriting the state of a newer one loses nothing.
func (s *State) UnmarshalJSON(b []byte) error {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	var f stateFields
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	for _, k := range knownFields {
		delete(all, k)
	}
	*s = State(f)
	if len(all) > 0 {
		s.extra = all
	}
	return nil
}

// MarshalJSON writes the known fields and the kept ones.
func (s State) MarshalJSON() ([]byte, error) {
	known, err := json.Marshal(stateFields(s))
	if err != nil || len(s.extra) == 0 {
		return known, err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(known, &all); err != nil {
		return nil, err
	}
	for k, v := range s.extra {
		if _, ok := all[k]; !ok {
			all[k] = v
		}
	}
	return json.Marshal(all)
}

// Aborted remembers the candidate an abort sent away.
type Aborted struct {
	Slot     provider.Slot `json:"slot"`
	Revision int64         `json:"revision"`
	At       time.Time     `json:"at"`
}

// Change is the last change: when, who, what, why.
type Change struct {
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	Command string    `json:"command"`
	Reason  string    `json:"reason,omitempty"`
}

// Pending is an interrupted change: the state before and the state meant.
type Pending struct {
	Command string          `json:"command"`
	Actor   string          `json:"actor"`
	PID     int             `json:"pid"`
	Since   time.Time       `json:"since"`
	Before  json.RawMessage `json:"before"`
	After   json.RawMessage `json:"after"`
}

// Initial is the state before the first change: blue active with 100%.
func Initial() State {
	return State{Format: Format, Active: provider.Blue, Weights: provider.Weights{provider.Blue: 100, provider.Green: 0}}
}

func (s State) clone() State {
	c := s
	c.Weights = provider.Weights{provider.Blue: s.Weights[provider.Blue], provider.Green: s.Weights[provider.Green]}
	c.Pending = nil
	return c
}

func (s State) check() error {
	if !s.Active.Valid() {
		return fmt.Errorf("active slot %q is not blue or green", s.Active)
	}
	if s.Candidate != "" && !s.Candidate.Valid() {
		return fmt.Errorf("candidate slot %q is not blue or green", s.Candidate)
	}
	if err := s.Weights.Validate(); err != nil {
		return err
	}
	return nil
}

// load reads the state and its version; Initial before the first change.
func load(ctx context.Context, st provider.StateStore) (State, string, error) {
	data, version, err := st.Load(ctx, StateKey)
	if errors.Is(err, provider.ErrNotFound) {
		return Initial(), "", nil
	}
	if err != nil {
		return State{}, "", fmt.Errorf("load rollout state: %w", err)
	}
	s := State{}
	err = json.Unmarshal(data, &s)
	if err == nil {
		err = s.check()
	}
	if err != nil {
		return State{}, "", fmt.Errorf("the rollout state (key %q) is malformed (%v); nothing was changed: fix it, or remove it to start again from blue active at 100%%", StateKey, err)
	}
	return s, version, nil
}

// save writes s if nobody changed the state since version; it returns the
// new version.
func save(ctx context.Context, st provider.StateStore, s State, version string) (string, error) {
	s.Format = max(s.Format, Format)
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return "", err
	}
	data = append(data, '\n')
	if err := st.Save(ctx, StateKey, data, version); err != nil {
		return "", fmt.Errorf("save rollout state: %w", err)
	}
	_, v, err := st.Load(ctx, StateKey)
	return v, err
}

func sameWeights(a, b provider.Weights) bool {
	return a[provider.Blue] == b[provider.Blue] && a[provider.Green] == b[provider.Green]
}
