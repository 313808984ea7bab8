package maintenance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
)

// WindowsKey is the StateStore key of the scheduled windows. No "/": the
// local store and ConfigMap keys allow only [a-z0-9._-].
const WindowsKey = "maintenance-windows"

// keepEnded is how long an ended window stays in the list.
const keepEnded = 30 * 24 * time.Hour

// Window is one scheduled maintenance window.
type Window struct {
	ID          string     `json:"id"`
	Start       time.Time  `json:"start"`
	End         time.Time  `json:"end"`
	Message     string     `json:"message,omitempty"`
	By          string     `json:"by"`
	CreatedAt   time.Time  `json:"created_at"`
	AnnouncedTo []string   `json:"announced_to"`
	AnnouncedAt *time.Time `json:"announced_at"`
	// Tick is what maintenance tick did with the window (TickOn, …); empty:
	// nothing yet. TickAt is when.
	Tick   string     `json:"tick,omitempty"`
	TickAt *time.Time `json:"tick_at,omitempty"`
	// TickOnSince is the switch's since when tick switched the window on:
	// tick switches off only that switch-on, never an operator's.
	TickOnSince *time.Time `json:"tick_on_since,omitempty"`
}

// The states of a window relative to now and the switch.
const (
	StateUpcoming   = "upcoming"    // not started
	StateDue        = "due"         // started, but maintenance is off
	StateInProgress = "in-progress" // started, maintenance on
	StateOverdue    = "overdue"     // ended, maintenance still on
	StateEnded      = "ended"
)

// WindowStatus is a window with its state.
type WindowStatus struct {
	Window
	State string `json:"state"`
}

func (w Window) status(now time.Time, on bool) WindowStatus {
	s := StateEnded
	switch {
	case now.Before(w.Start):
		s = StateUpcoming
	case now.Before(w.End) && on:
		s = StateInProgress
	case now.Before(w.End):
		s = StateDue
	case on:
		s = StateOverdue
	}
	return WindowStatus{Window: w, State: s}
}

type windowsDoc struct {
	Windows []Window `json:"windows"`
}

func (e *Engine) loadWindows(ctx context.Context) ([]Window, string, error) {
	if e.State == nil {
		return nil, "", ErrNoWindows
	}
	data, ver, err := e.State.Load(ctx, WindowsKey)
	if errors.Is(err, provider.ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	var doc windowsDoc
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, "", fmt.Errorf("state %s is not valid JSON (%v): fix or remove it", WindowsKey, err)
	}
	return doc.Windows, ver, nil
}

// updateWindows applies change to the windows with compare-and-swap,
// retrying when another writer got in between.
func (e *Engine) updateWindows(ctx context.Context, change func([]Window) ([]Window, error)) error {
	for range 5 {
		ws, ver, err := e.loadWindows(ctx)
		if err != nil {
			return err
		}
		ws, err = change(ws)
		if err != nil {
			return err
		}
		cut := e.now().Add(-keepEnded)
		ws = slices.DeleteFunc(ws, func(w Window) bool { return w.End.Before(cut) })
		data, _ := json.MarshalIndent(windowsDoc{Windows: ws}, "", "  ")
		err = e.State.Save(ctx, WindowsKey, data, ver)
		if !errors.Is(err, provider.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("maintenance windows keep changing under us: try again")
}

// Windows lists the windows by start time, with their states.
func (e *Engine) Windows(ctx context.Context) ([]WindowStatus, error) {
	ws, _, err := e.loadWindows(ctx)
	if err != nil {
		return nil, err
	}
	st, err := e.Switch.Maintenance(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]WindowStatus, 0, len(ws))
	for _, w := range sortByStart(ws) {
		out = append(out, w.status(e.now(), st.On))
	}
	return out, nil
}

func sortByStart(ws []Window) []Window {
	ws = slices.Clone(ws)
	slices.SortFunc(ws, func(a, b Window) int { return a.Start.Compare(b.Start) })
	return ws
}

// newID names a window after its start, readable in `list` and `cancel`.
func newID(start time.Time, ws []Window) string {
	base := start.UTC().Format("20060102-1504")
	id := base
	for n := 2; slices.ContainsFunc(ws, func(w Window) bool { return w.ID == id }); n++ {
		id = fmt.Sprintf("%s-%d", base, n)
	}
	return id
}
