package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/local/statefs"
)

// Router changes the proxy's state document and returns once the running
// proxy acknowledges the change. Without a running proxy the change is
// stored, Notef says so, and the proxy applies it when it starts.
type Router struct {
	Paths Paths
	Store provider.StateStore
	Slots map[provider.Slot]string // base URLs
	// Health is what Slot and Liveness probe: the environment's health section.
	Health     provider.Health
	AckTimeout time.Duration
	HTTP       *http.Client
	Notef      func(format string, a ...any)
	Now        func() time.Time
	Env        string // the environment's name, for the command that starts its proxy
}

var (
	_ provider.TrafficRouter     = (*Router)(nil)
	_ provider.MaintenanceSwitch = (*Router)(nil)
	_ provider.DataPlane         = (*Router)(nil)
)

// NewRouter returns a Router on the state folder root with defaults.
func NewRouter(root string, slots map[provider.Slot]string) *Router {
	return &Router{
		Paths: Paths{Root: root}, Store: &statefs.Store{Dir: Paths{Root: root}.StateDir()}, Slots: slots,
		Health:     provider.DefaultHealth,
		AckTimeout: 3 * time.Second, HTTP: &http.Client{}, Now: time.Now,
	}
}

func (r *Router) notef(format string, a ...any) {
	if r.Notef != nil {
		r.Notef(format, a...)
	}
}

// DataPlane says whether a proxy serves this environment.
func (r *Router) DataPlane(context.Context) provider.DataPlaneStatus {
	running, ack := r.Running()
	if !running {
		return provider.DataPlaneStatus{Detail: "no proxy is running for this environment", Start: r.startCommand()}
	}
	if ack == nil {
		return provider.DataPlaneStatus{Up: true, Detail: "a proxy is starting"}
	}
	return provider.DataPlaneStatus{Up: true, Detail: fmt.Sprintf("proxy pid %d on %s, revision %d%s", ack.PID, ack.Listen, ack.Revision, overrides(ack))}
}

// Running reports whether a proxy serves this environment, and its ack.
func (r *Router) Running() (bool, *Ack) {
	release, free, err := statefs.TryLock(r.Paths.Lock(), false)
	if err != nil {
		return false, nil
	}
	if free {
		release()
		return false, nil
	}
	ack, _ := ReadAck(r.Paths.Ack())
	return true, ack
}

// ReadAck reads a proxy's acknowledgement file.
func ReadAck(path string) (*Ack, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	a := &Ack{}
	if err := json.Unmarshal(data, a); err != nil {
		return nil, fmt.Errorf("malformed %s: %w", path, err)
	}
	return a, nil
}

// Desired loads the state document (the default one before any change) and
// its version. A malformed document is an error that says how to fix it.
func (r *Router) Desired(ctx context.Context) (*Doc, string, error) {
	data, version, err := r.Store.Load(ctx, StateKey)
	if errors.Is(err, provider.ErrNotFound) {
		return DefaultDoc(), "", nil
	}
	if err != nil {
		return nil, "", err
	}
	d, err := ParseDoc(data)
	if err != nil {
		return nil, "", fmt.Errorf("the proxy state file %s is malformed (%v); nothing was changed: fix the file, or remove it to start again from blue 100%% (a running proxy keeps serving its last good state)",
			r.Paths.StateDir()+"/"+StateKey+".json", err)
	}
	return d, version, nil
}

// Weights returns the weights the running proxy serves, or the stored ones
// that a proxy will serve when it starts.
func (r *Router) Weights(ctx context.Context) (provider.Weights, error) {
	if running, ack := r.Running(); running && ack != nil {
		return ack.Weights, nil
	}
	d, _, err := r.Desired(ctx)
	if err != nil {
		return nil, err
	}
	return d.Weights, nil
}

// SetWeights stores w and waits for the proxy to serve it.
func (r *Router) SetWeights(ctx context.Context, w provider.Weights) error {
	if err := w.Validate(); err != nil {
		return err
	}
	rev, err := r.update(ctx, func(d *Doc) {
		d.Weights = provider.Weights{provider.Blue: w[provider.Blue], provider.Green: w[provider.Green]}
	})
	if err != nil {
		return err
	}
	return r.waitAck(ctx, rev)
}

// Maintenance returns the switch as the running proxy applies it, or as stored.
func (r *Router) Maintenance(ctx context.Context) (provider.MaintenanceState, error) {
	if running, ack := r.Running(); running && ack != nil {
		return ack.Maintenance, nil
	}
	d, _, err := r.Desired(ctx)
	if err != nil {
		return provider.MaintenanceState{}, err
	}
	return d.Maintenance, nil
}

// SetMaintenance stores st and waits for the proxy to apply it.
func (r *Router) SetMaintenance(ctx context.Context, st provider.MaintenanceState) error {
	rev, err := r.update(ctx, func(d *Doc) { d.Maintenance = st })
	if err != nil {
		return err
	}
	return r.waitAck(ctx, rev)
}

// update applies change to the document with compare-and-swap, retrying
// when another writer got there first, and returns the new revision.
func (r *Router) update(ctx context.Context, change func(*Doc)) (int64, error) {
	for attempt := 0; attempt < 50; attempt++ {
		d, version, err := r.Desired(ctx)
		if err != nil {
			return 0, err
		}
		// after the document was removed, continue above what the proxy served
		if ack, _ := ReadAck(r.Paths.Ack()); ack != nil && ack.Revision > d.Revision {
			d.Revision = ack.Revision
		}
		change(d)
		d.Format, d.Revision, d.UpdatedAt = max(d.Format, Format), d.Revision+1, r.Now().UTC()
		data, err := json.MarshalIndent(d, "", "  ")
		if err != nil {
			return 0, err
		}
		err = r.Store.Save(ctx, StateKey, append(data, '\n'), version)
		if err == nil {
			return d.Revision, nil
		}
		if !errors.Is(err, provider.ErrConflict) {
			return 0, fmt.Errorf("save proxy state: %w", err)
		}
	}
	return 0, fmt.Errorf("save proxy state: too many concurrent writers; retry")
}

// waitAck returns once the running proxy has applied revision rev.
func (r *Router) waitAck(ctx context.Context, rev int64) error { return r.waitAckFor(ctx, rev, nil) }

// waitAckFor is waitAck; check, when not nil, reads the first ack of rev
// or later and says whether it serves what was asked.
func (r *Router) waitAckFor(ctx context.Context, rev int64, check func(*Ack) error) error {
	deadline := time.Now().Add(r.AckTimeout)
	for {
		running, ack := r.Running()
		if !running {
			r.notef("no proxy is running for this environment: the change is stored and applies when `deployctl proxy` starts")
			return nil
		}
		if ack != nil && ack.Revision >= rev {
			if check != nil {
				return check(ack)
			}
			return nil
		}
		if time.Now().After(deadline) {
			pid := 0
			if ack != nil {
				pid = ack.PID
			}
			return fmt.Errorf("the proxy (pid %d) did not acknowledge the change within %s; the change is stored and applies when the proxy reads it; check the proxy's log", pid, r.AckTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}
