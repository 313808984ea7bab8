package dns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/deployctl/deployctl/pkg/history"
	"github.com/deployctl/deployctl/pkg/lock"
	"github.com/deployctl/deployctl/pkg/provider"
)

// StateKey is where the engine keeps the PRIMARY record's own target while
// it points at the standby zone, so that failing back restores it exactly.
const StateKey = "dns-failover"

// DefaultPoll is the wait between two change status reads.
const DefaultPoll = 5 * time.Second

// Engine reads and switches one environment's failover record set. DNS is
// required; State is needed by failover (and shown by status).
type Engine struct {
	DNS     Failover
	Lock    *lock.Guard // nil: no lock (engine tests)
	State   provider.StateStore
	History *history.Recorder // nil: none
	Actor   string
	Now     func() time.Time
	// Poll is the wait between two change status reads; zero: DefaultPoll.
	Poll time.Duration
	// Progress is told the change's status after each read while waiting;
	// nil discards.
	Progress func(changeID, status string, elapsed time.Duration)
	// Notef tells the operator something worth knowing (stderr); nil drops it.
	Notef func(format string, a ...any)
}

// saved is the engine's state document.
type saved struct {
	// Original is the PRIMARY record's own target while it points at the
	// standby's; nil when it is not switched.
	Original   *Target   `json:"original,omitempty"`
	SwitchedAt time.Time `json:"switched_at,omitzero"`
	By         string    `json:"by,omitempty"`
}

func (e *Engine) load(ctx context.Context) (saved, string, error) {
	var s saved
	if e.State == nil {
		return s, "", nil
	}
	data, ver, err := e.State.Load(ctx, StateKey)
	if errors.Is(err, provider.ErrNotFound) {
		return s, "", nil
	}
	if err != nil {
		return s, "", fmt.Errorf("read the failover state %s: %w", StateKey, err)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, "", fmt.Errorf("the failover state %s is malformed (%v): fix or remove it", StateKey, err)
	}
	return s, ver, nil
}

func (e *Engine) save(ctx context.Context, s saved, ver string) error {
	data, _ := json.Marshal(s)
	if err := e.State.Save(ctx, StateKey, data, ver); err != nil {
		return fmt.Errorf("save the failover state %s: %w", StateKey, err)
	}
	return nil
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Engine) note(format string, a ...any) {
	if e.Notef != nil {
		e.Notef(format, a...)
	}
}

// switched reports whether the PRIMARY record points at the standby's target.
func switched(rs RecordSet) bool { return rs.Primary.Target.Equal(rs.Secondary.Target) }

// check refuses a record set that is not a failover pair the engine can switch.
func check(rs RecordSet, w Where) error {
	if rs.Primary.SetIdentifier == "" || rs.Secondary.SetIdentifier == "" {
		missing := Primary
		if rs.Primary.SetIdentifier != "" {
			missing = Secondary
		}
		return fmt.Errorf("%s has no %s failover record: create the PRIMARY (primary zone's load balancer) and SECONDARY (standby zone's) records first, see docs/dr.md", w, missing)
	}
	return nil
}
