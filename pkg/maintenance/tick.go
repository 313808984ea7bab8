package maintenance

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/deployctl/deployctl/pkg/maintenance/page"
	"github.com/deployctl/deployctl/pkg/notify"
	"github.com/deployctl/deployctl/pkg/provider"
)

// What tick did with a window (Window.Tick and TickAction.Action).
const (
	TickOn        = "on"         // tick switched maintenance on at the window's start
	TickAlreadyOn = "already-on" // maintenance was on at the start: left to whoever switched it on
	TickMissed    = "missed"     // the end passed before the window was started: not switched on
	TickOff       = "off"        // tick switched maintenance off at the window's end
	TickLeftOn    = "left-on"    // at the end, the switch was not tick's any more: left on
	TickWasOff    = "was-off"    // at the end, somebody had switched off already
)

// TickAction is one thing tick did (or, with DryRun, would do).
type TickAction struct {
	Window        string            `json:"window"`
	Action        string            `json:"action"`
	Start         time.Time         `json:"start"`
	End           time.Time         `json:"end"`
	Detail        string            `json:"detail,omitempty"`
	Notifications []notify.Delivery `json:"notifications,omitempty"`
}

// TickResult is the outcome of tick: empty when nothing was due.
type TickResult struct {
	Actions []TickAction `json:"actions"`
	DryRun  bool         `json:"dry_run,omitempty"`
}

// TickRequest is what `maintenance tick` asks for: Allow is the
// allow-list windows are switched on with (maintenance.allow).
type TickRequest struct {
	Allow  []string
	DryRun bool
}

// Tick switches on the windows whose start has come (and whose end has not
// passed), and off those whose end has passed and that tick switched on,
// then announces each start and end. It holds the lock, so two ticks at
// once do not both act; a window decided once is not decided again.
func (e *Engine) Tick(ctx context.Context, r TickRequest) (TickResult, error) {
	res := TickResult{Actions: []TickAction{}, DryRun: r.DryRun}
	if e.State == nil {
		return res, ErrNoWindows
	}
	if r.DryRun {
		err := e.tick(ctx, r, &res)
		return res, err
	}
	err := e.locked(ctx, "maintenance tick", func() error { return e.tick(ctx, r, &res) })
	return res, err
}

func (e *Engine) tick(ctx context.Context, r TickRequest, res *TickResult) error {
	ws, _, err := e.loadWindows(ctx)
	if err != nil {
		return err
	}
	now := e.now()
	for _, w := range sortByStart(ws) {
		if now.Before(w.Start) || w.Tick == TickMissed || w.Tick == TickAlreadyOn || w.Tick == TickOff || w.Tick == TickLeftOn || w.Tick == TickWasOff {
			continue
		}
		if w.Tick == TickOn && now.Before(w.End) {
			continue // on, as it should be
		}
		st, err := e.Switch.Maintenance(ctx)
		if err != nil {
			return err
		}
		a := e.decide(w, st, now)
		if !r.DryRun {
			if err := e.act(ctx, r, w, st, &a); err != nil {
				res.Actions = append(res.Actions, a)
				return err
			}
		}
		res.Actions = append(res.Actions, a)
	}
	return nil
}

// decide says what is due for w with the switch in st.
func (e *Engine) decide(w Window, st provider.MaintenanceState, now time.Time) TickAction {
	a := TickAction{Window: w.ID, Start: w.Start, End: w.End}
	switch {
	case w.Tick == "" && !now.Before(w.End):
		a.Action, a.Detail = TickMissed, fmt.Sprintf("its end %s passed before it was switched on (was tick not running, or the clock off?): not switched on", w.End.Format(time.RFC3339))
	case w.Tick == "" && page.Active(st, now):
		a.Action, a.Detail = TickAlreadyOn, fmt.Sprintf("maintenance was already on (by %s): left to them, tick will not switch it off", st.By)
	case w.Tick == "":
		a.Action = TickOn
	case !st.On:
		a.Action, a.Detail = TickWasOff, "maintenance was already off"
	case w.TickOnSince == nil || !st.Since.Equal(*w.TickOnSince) || st.Until.IsZero() || st.Until.After(w.End):
		a.Action, a.Detail = TickLeftOn, fmt.Sprintf("maintenance was switched on again or extended by %s (%s): left on; switch it off with deployctl maintenance off", st.By, untilText(st.Until))
	default:
		a.Action = TickOff
	}
	return a
}

// act carries out a, records it on the window and in the history, and
// sends the started/ended notices.
func (e *Engine) act(ctx context.Context, r TickRequest, w Window, st provider.MaintenanceState, a *TickAction) error {
	var err error
	switch a.Action {
	case TickOn:
		after := e.desiredOn(st, OnRequest{Message: w.Message, Until: w.End, Allow: r.Allow})
		if a.Notifications, err = e.applyFor(ctx, "maintenance tick", st, after, w.ID); err != nil {
			return err
		}
		since := after.Since
		err = e.markWindow(ctx, w.ID, TickOn, &since)
		e.announce(ctx, e.started, w)
	case TickOff:
		after := provider.MaintenanceState{On: false, Restore: st.Restore}
		if a.Notifications, err = e.applyFor(ctx, "maintenance tick", st, after, w.ID); err != nil {
			return err
		}
		err = e.markWindow(ctx, w.ID, TickOff, nil)
		e.announce(ctx, e.ended, w)
	default:
		err = e.markWindow(ctx, w.ID, a.Action, nil)
		e.record(context.WithoutCancel(ctx), provider.Entry{Command: "maintenance tick", After: a, Result: a.Action, Detail: "window " + w.ID + ": " + a.Detail})
		if a.Action == TickMissed {
			e.logf("warning: window %s was missed: %s", w.ID, a.Detail)
		}
	}
	return err
}

// markWindow records on the window what tick did.
func (e *Engine) markWindow(ctx context.Context, id, what string, since *time.Time) error {
	at := e.now()
	return e.updateWindows(ctx, func(ws []Window) ([]Window, error) {
		i := slices.IndexFunc(ws, func(w Window) bool { return w.ID == id })
		if i < 0 {
			return ws, nil // cancelled meanwhile
		}
		ws[i].Tick, ws[i].TickAt = what, &at
		if since != nil {
			ws[i].TickOnSince = since
		}
		return ws, nil
	})
}

// announce mails a notice to maintenance.notify.to; a failure is a warning.
func (e *Engine) announce(ctx context.Context, notice func(Window) (string, string), w Window) {
	if e.Notify == nil || len(e.NotifyTo) == 0 {
		return
	}
	subject, body := notice(w)
	if err := e.Notify(ctx, subject, body); err != nil {
		e.logf("warning: the notice %q was not sent: %v", subject, err)
	}
}

func (e *Engine) started(w Window) (subject, body string) {
	env := e.envName()
	subject = fmt.Sprintf("Maintenance of %s has started: until %s", env, w.End.UTC().Format("15:04 MST"))
	body = fmt.Sprintf("The scheduled maintenance of %s (window %s) has started.\nThe service answers 503 with a maintenance page until %s.\n", env, w.ID, w.End.Format(time.RFC3339))
	if w.Message != "" {
		body += "\n" + w.Message + "\n"
	}
	return subject, body
}

func (e *Engine) ended(w Window) (subject, body string) {
	env := e.envName()
	subject = fmt.Sprintf("Maintenance of %s has ended", env)
	body = fmt.Sprintf("The scheduled maintenance of %s (window %s, %s) has ended: the service is available again.\n", env, w.ID, span(w.Start, w.End))
	return subject, body
}
