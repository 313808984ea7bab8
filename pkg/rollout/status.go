package rollout

import (
	"context"

	"github.com/deployctl/deployctl/pkg/lock"
	"github.com/deployctl/deployctl/pkg/provider"
)

// Status is `rollout status`: the stored state next to what the data plane
// serves and how each slot is doing.
type Status struct {
	Active     provider.Slot                `json:"active"`
	Candidate  provider.Slot                `json:"candidate,omitempty"`
	Weights    provider.Weights             `json:"weights"`        // as the provider serves them
	Stored     provider.Weights             `json:"stored_weights"` // as the rollout state says
	Drift      bool                         `json:"drift"`
	Health     map[provider.Slot]SlotHealth `json:"health"`
	Versions   map[provider.Slot]string     `json:"versions"`
	Revision   int64                        `json:"revision"`
	LastChange *Change                      `json:"last_change"`
	Aborted    *Aborted                     `json:"aborted,omitempty"`
	Lock       *provider.Holder             `json:"lock"`
	Pending    *Pending                     `json:"interrupted,omitempty"`
	// DataPlane is whether the data plane serves, where the provider can
	// say; down, Weights are the stored ones (what it will serve).
	DataPlane *provider.DataPlaneStatus `json:"data_plane,omitempty"`
}

// SlotHealth is one slot's readiness.
type SlotHealth struct {
	Ready     bool    `json:"ready"`
	Detail    string  `json:"detail,omitempty"`
	LatencyMS float64 `json:"latency_ms"`
}

// Status reads everything without taking the lock.
func (e *Engine) Status(ctx context.Context) (*Status, error) {
	s, _, err := load(ctx, e.Store)
	if err != nil {
		return nil, err
	}
	w, err := e.Router.Weights(ctx)
	if err != nil {
		return nil, err
	}
	st := &Status{
		Active: s.Active, Candidate: s.Candidate, Weights: w, Stored: s.Weights, Drift: !sameWeights(w, s.Weights),
		Health: map[provider.Slot]SlotHealth{}, Versions: map[provider.Slot]string{}, Revision: s.Revision,
		LastChange: s.Last, Aborted: s.Aborted, Pending: s.Pending, Lock: lock.Holder(ctx, e.Locker),
		DataPlane: e.dataPlane(ctx),
	}
	for _, slot := range provider.Slots {
		ss, err := e.Router.Slot(ctx, slot)
		if err != nil {
			ss.Detail = err.Error()
		}
		st.Health[slot] = SlotHealth{Ready: ss.Ready, Detail: ss.Detail, LatencyMS: float64(ss.Latency.Microseconds()) / 1000}
		st.Versions[slot] = ss.Version
	}
	return st, nil
}
