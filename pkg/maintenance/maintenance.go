// Package maintenance is the provider-neutral engine of maintenance
// windows: switching the page on and off through a provider's
// MaintenanceSwitch under the environment lock, reporting its status
// (including windows that overran their end), scheduling and announcing
// windows, and the `run` wrapper that stays on when anything fails.
package maintenance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/deployctl/deployctl/pkg/history"
	"github.com/deployctl/deployctl/pkg/lock"
	"github.com/deployctl/deployctl/pkg/maintenance/page"
	"github.com/deployctl/deployctl/pkg/notify"
	"github.com/deployctl/deployctl/pkg/provider"
)

// Engine switches maintenance for one environment. Switch is required;
// the others are needed only by the operations that use them.
type Engine struct {
	Switch provider.MaintenanceSwitch
	// Lock is the environment's lock: on, off, schedule and cancel hold it
	// (run holds it while switching). nil: no lock (engine tests).
	Lock    *lock.Guard
	State   provider.StateStore    // schedule, list, cancel, status
	Router  provider.TrafficRouter // run: health of the slots in service
	History *history.Recorder      // the audit trail; nil: none
	// Notify announces a window; nil or NotifyTo empty: windows are recorded unannounced.
	Notify   func(ctx context.Context, subject, body string) error
	NotifyTo []string
	// Notifier gets maintenance.on and maintenance.off events; nil: none.
	Notifier notify.Notifier
	Env      string // for the announcement text
	Actor    string
	Now      func() time.Time
	// Logf reports progress for people (stderr); nil discards.
	Logf func(format string, a ...any)
}

// OnRequest is what `maintenance on` asks for.
type OnRequest struct {
	Message string
	Until   time.Time // zero: open-ended
	Allow   []string  // validated CIDRs or addresses
	DryRun  bool
}

// Change is the outcome of on and off.
type Change struct {
	Changed bool                      `json:"changed"`
	DryRun  bool                      `json:"dry_run,omitempty"`
	Before  provider.MaintenanceState `json:"-"`
	After   provider.MaintenanceState `json:"-"`
}

// MarshalJSON shows both states as people and scripts read them.
func (c Change) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Changed bool  `json:"changed"`
		DryRun  bool  `json:"dry_run,omitempty"`
		Before  State `json:"before"`
		After   State `json:"after"`
	}{c.Changed, c.DryRun, View(c.Before), View(c.After)})
}

// State is a switch state for output and history: unset times are null.
type State struct {
	On      bool       `json:"on"`
	Message string     `json:"message"`
	Since   *time.Time `json:"since"`
	Until   *time.Time `json:"until"`
	By      string     `json:"by"`
	Allow   []string   `json:"allow"`
}

// View is st as a State.
func View(st provider.MaintenanceState) State {
	v := State{On: st.On, Message: st.Message, Since: timePtr(st.Since), Until: timePtr(st.Until), By: st.By, Allow: st.Allow}
	if v.Allow == nil {
		v.Allow = []string{}
	}
	return v
}

// now is the clock to the second: times in state, history and JSON stay
// readable, and repeating a command within a second is idempotent.
func (e *Engine) now() time.Time { return e.Now().UTC().Truncate(time.Second) }

func (e *Engine) logf(format string, a ...any) {
	if e.Logf != nil {
		e.Logf(format, a...)
	}
}

func (e *Engine) record(ctx context.Context, ent provider.Entry) { e.History.Record(ctx, ent) }

// ValidateOn checks a request before anything is touched.
func ValidateOn(r OnRequest, now time.Time) error {
	if _, err := page.ParseAllow(r.Allow); err != nil {
		return err
	}
	if !r.Until.IsZero() && !r.Until.After(now) {
		return fmt.Errorf("--until %s is not in the future", r.Until.UTC().Format(time.RFC3339))
	}
	return nil
}

// locked runs fn under the environment lock.
func (e *Engine) locked(ctx context.Context, command string, fn func() error) error {
	return e.Lock.Do(ctx, command, func(context.Context) error { return fn() })
}

// On switches maintenance on, or updates the message, end or allow-list of
// a window already on (keeping its start). Asking for what is already in
// force changes nothing.
func (e *Engine) On(ctx context.Context, r OnRequest) (Change, error) {
	var ch Change
	err := e.locked(ctx, "maintenance on", func() error {
		if err := e.fromWindow(ctx, &r); err != nil {
			return err
		}
		before, err := e.Switch.Maintenance(ctx)
		if err != nil {
			return err
		}
		after := e.desiredOn(before, r)
		ch = Change{Changed: !sameOn(before, after, e.now()), DryRun: r.DryRun, Before: before, After: after}
		if !ch.Changed {
			ch.After = before
			return nil
		}
		if r.DryRun {
			return nil
		}
		return e.apply(ctx, "maintenance on", before, after)
	})
	return ch, err
}

// fromWindow fills a bare `on` (no message, no end) from the scheduled
// window that covers now, so that the window's end becomes Retry-After.
func (e *Engine) fromWindow(ctx context.Context, r *OnRequest) error {
	if e.State == nil || r.Message != "" || !r.Until.IsZero() {
		return nil
	}
	ws, _, err := e.loadWindows(ctx)
	if err != nil {
		return err
	}
	now := e.now()
	for _, w := range ws {
		if !now.Before(w.Start) && now.Before(w.End) {
			r.Message, r.Until = w.Message, w.End
			e.logf("using scheduled window %s: until %s", w.ID, w.End.Format(time.RFC3339))
		}
	}
	return nil
}

func (e *Engine) desiredOn(before provider.MaintenanceState, r OnRequest) provider.MaintenanceState {
	allow, _ := page.ParseAllow(r.Allow)
	after := provider.MaintenanceState{On: true, Message: r.Message, Since: e.now(), Until: r.Until.UTC().Truncate(time.Second), By: e.Actor, Restore: before.Restore}
	for _, p := range allow {
		after.Allow = append(after.Allow, p.String())
	}
	if page.Active(before, e.now()) {
		after.Since, after.By = before.Since, before.By // the same window, extended or reworded
	}
	return after
}

func sameOn(a, b provider.MaintenanceState, now time.Time) bool {
	return page.Active(a, now) && a.Message == b.Message && a.Until.Equal(b.Until) && slices.Equal(a.Allow, b.Allow)
}

// apply sets st, sends the maintenance.on or .off event when the page
// appeared or went away, and records the change, failed or not, with the
// notifications' deliveries.
func (e *Engine) apply(ctx context.Context, command string, before, after provider.MaintenanceState) error {
	_, err := e.applyFor(ctx, command, before, after, "")
	return err
}

// applyFor is apply for the scheduled window with id window ("" for none);
// it returns the deliveries of the notifications.
func (e *Engine) applyFor(ctx context.Context, command string, before, after provider.MaintenanceState, window string) ([]notify.Delivery, error) {
	err := e.Switch.SetMaintenance(ctx, after)
	ent := provider.Entry{Command: command, Before: View(before), Result: "ok"}
	var ds []notify.Delivery
	if err != nil {
		ent.Result, ent.Detail = "failed", err.Error()
	} else {
		ds = e.notifySwitch(ctx, before, after, window)
	}
	if window != "" {
		ent.Detail = joinDetail("window "+window, ent.Detail)
	}
	ent.After = Noticed{State: View(after), Notifications: ds}
	e.record(context.WithoutCancel(ctx), ent)
	return ds, err
}

func joinDetail(a, b string) string {
	if b == "" {
		return a
	}
	return a + ": " + b
}

// Noticed is a state in a history entry with the notifications sent about it.
type Noticed struct {
	State
	Notifications []notify.Delivery `json:"notifications,omitempty"`
}

// notifySwitch sends maintenance.on when the page appears and
// maintenance.off when it is switched off (an expired window too); an
// update of a window already on sends nothing.
func (e *Engine) notifySwitch(ctx context.Context, before, after provider.MaintenanceState, window string) []notify.Delivery {
	if e.Notifier == nil {
		return nil
	}
	now := e.now()
	isOn := page.Active(after, now)
	if isOn == page.Active(before, now) && (isOn || !before.On) {
		return nil
	}
	ev := notify.Event{Kind: notify.MaintenanceOff, Env: e.Env, Time: now, Actor: e.Actor, Fields: map[string]string{}}
	ev.Summary = fmt.Sprintf("maintenance of %s is off: traffic reaches the application again", e.envName())
	if isOn {
		ev.Kind = notify.MaintenanceOn
		ev.Summary = fmt.Sprintf("maintenance of %s is on (%s)", e.envName(), untilText(after.Until))
		if after.Message != "" {
			ev.Fields["message"] = after.Message
		}
		if !after.Until.IsZero() {
			ev.Fields["until"] = after.Until.UTC().Format(time.RFC3339)
		}
	}
	if window != "" {
		ev.Fields["window"] = window
	}
	return e.Notifier.Notify(ctx, ev)
}

func untilText(until time.Time) string {
	if until.IsZero() {
		return "open-ended"
	}
	return "until " + until.UTC().Format(time.RFC3339)
}

// Off switches maintenance off; when it is already off nothing changes.
func (e *Engine) Off(ctx context.Context, dryRun bool) (Change, error) {
	var ch Change
	err := e.locked(ctx, "maintenance off", func() error {
		before, err := e.Switch.Maintenance(ctx)
		if err != nil {
			return err
		}
		after := provider.MaintenanceState{On: false, Restore: before.Restore}
		ch = Change{Changed: before.On, DryRun: dryRun, Before: before, After: after}
		if !ch.Changed || dryRun {
			if !ch.Changed {
				ch.After = before
			}
			return nil
		}
		return e.apply(ctx, "maintenance off", before, after)
	})
	return ch, err
}

// ErrNoWindows says the engine has no StateStore to keep windows in.
var ErrNoWindows = errors.New("this provider keeps no state for maintenance windows")
