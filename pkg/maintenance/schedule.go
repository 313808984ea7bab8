package maintenance

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/deployctl/deployctl/pkg/timeutil"
)

// ScheduleRequest is what `maintenance schedule` asks for.
type ScheduleRequest struct {
	Start    time.Time
	Duration time.Duration
	Message  string
	DryRun   bool
}

// Scheduled is the outcome of schedule: the window and its announcement.
type Scheduled struct {
	Window  Window `json:"window"`
	Subject string `json:"subject"`
	Body    string `json:"body"`
	DryRun  bool   `json:"dry_run,omitempty"`
}

// ValidateSchedule checks a request before anything is touched.
func ValidateSchedule(r ScheduleRequest, now time.Time) error {
	if !r.Start.After(now) {
		return fmt.Errorf("--start %s is not in the future", r.Start.UTC().Format(time.RFC3339))
	}
	if r.Duration <= 0 {
		return fmt.Errorf("--duration must be positive, e.g. 30m or 2h")
	}
	return nil
}

// OverlapError says a new window overlaps a scheduled one.
type OverlapError struct{ With Window }

func (e *OverlapError) Error() string {
	return fmt.Sprintf("the window overlaps window %s (%s); cancel it first (deployctl maintenance cancel %s) or pick another time",
		e.With.ID, span(e.With.Start, e.With.End), e.With.ID)
}

func overlapping(ws []Window, start, end time.Time) error {
	for _, w := range ws {
		if start.Before(w.End) && w.Start.Before(end) {
			return &OverlapError{With: w}
		}
	}
	return nil
}

// Schedule records a window and announces it. The announcement goes first:
// when it fails nothing is recorded, so the command can simply be re-run.
func (e *Engine) Schedule(ctx context.Context, r ScheduleRequest) (Scheduled, error) {
	if r.DryRun {
		return e.schedule(ctx, r)
	}
	var out Scheduled
	err := e.locked(ctx, "maintenance schedule", func() (err error) {
		out, err = e.schedule(ctx, r)
		return err
	})
	return out, err
}

func (e *Engine) schedule(ctx context.Context, r ScheduleRequest) (Scheduled, error) {
	if err := ValidateSchedule(r, e.now()); err != nil {
		return Scheduled{}, err
	}
	ws, _, err := e.loadWindows(ctx)
	if err != nil {
		return Scheduled{}, err
	}
	end := r.Start.Add(r.Duration).UTC()
	if err := overlapping(ws, r.Start, end); err != nil {
		return Scheduled{}, err
	}
	w := Window{ID: newID(r.Start, ws), Start: r.Start.UTC(), End: end, Message: r.Message, By: e.Actor, CreatedAt: e.now(), AnnouncedTo: []string{}}
	out := Scheduled{Window: w, DryRun: r.DryRun}
	out.Subject, out.Body = e.announcement(w)
	if r.DryRun {
		return out, nil
	}
	if e.Notify != nil && len(e.NotifyTo) > 0 {
		if err := e.Notify(ctx, out.Subject, out.Body); err != nil {
			return out, fmt.Errorf("window not recorded: announcing it failed: %w", err)
		}
		at := e.now()
		w.AnnouncedTo, w.AnnouncedAt = slices.Clone(e.NotifyTo), &at
		out.Window = w
	}
	err = e.updateWindows(ctx, func(ws []Window) ([]Window, error) {
		if err := overlapping(ws, w.Start, w.End); err != nil {
			return nil, err
		}
		w.ID = newID(w.Start, ws)
		return append(ws, w), nil
	})
	out.Window.ID = w.ID
	e.record(context.WithoutCancel(ctx), historyEntry("maintenance schedule", nil, w, err))
	return out, err
}

// Cancel removes a window. An announced window gets a cancellation notice;
// when that cannot be sent the window is still cancelled and Logf says so.
func (e *Engine) Cancel(ctx context.Context, id string, dryRun bool) (Window, error) {
	if dryRun {
		return e.cancel(ctx, id, true)
	}
	var w Window
	err := e.locked(ctx, "maintenance cancel", func() (err error) {
		w, err = e.cancel(ctx, id, false)
		return err
	})
	return w, err
}

func (e *Engine) cancel(ctx context.Context, id string, dryRun bool) (Window, error) {
	ws, _, err := e.loadWindows(ctx)
	if err != nil {
		return Window{}, err
	}
	i := slices.IndexFunc(ws, func(w Window) bool { return w.ID == id })
	if i < 0 {
		return Window{}, &NotFoundError{ID: id}
	}
	w := ws[i]
	if dryRun {
		return w, nil
	}
	err = e.updateWindows(ctx, func(ws []Window) ([]Window, error) {
		return slices.DeleteFunc(ws, func(x Window) bool { return x.ID == id }), nil
	})
	e.record(context.WithoutCancel(ctx), historyEntry("maintenance cancel", w, nil, err))
	if err != nil {
		return w, err
	}
	if w.AnnouncedAt != nil && e.Notify != nil && len(e.NotifyTo) > 0 {
		subject, body := e.cancellation(w)
		if err := e.Notify(ctx, subject, body); err != nil {
			e.logf("warning: window %s is cancelled, but the cancellation was not announced: %v", id, err)
		}
	}
	return w, nil
}

// NotFoundError names a window that does not exist.
type NotFoundError struct{ ID string }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("no maintenance window %q: see deployctl maintenance list", e.ID)
}

func span(start, end time.Time) string {
	return start.UTC().Format("Mon, 02 Jan 2006 15:04") + "-" + end.UTC().Format("15:04 MST") + dayNote(start, end)
}

func dayNote(start, end time.Time) string {
	if start.UTC().YearDay() != end.UTC().YearDay() {
		return " (" + end.UTC().Format("Mon, 02 Jan") + ")"
	}
	return ""
}

func (e *Engine) announcement(w Window) (subject, body string) {
	env := e.envName()
	subject = fmt.Sprintf("Scheduled maintenance of %s: %s", env, span(w.Start, w.End))
	var b strings.Builder
	fmt.Fprintf(&b, "Maintenance of %s is scheduled.\n\n", env)
	fmt.Fprintf(&b, "Start:    %s\n", w.Start.Format(time.RFC3339))
	fmt.Fprintf(&b, "End:      %s\n", w.End.Format(time.RFC3339))
	fmt.Fprintf(&b, "Duration: %s\n", timeutil.FormatDuration(w.End.Sub(w.Start)))
	if w.Message != "" {
		fmt.Fprintf(&b, "\n%s\n", w.Message)
	}
	fmt.Fprintf(&b, "\nDuring the window the service answers 503 with a maintenance page.\nWindow %s, scheduled by %s.\n", w.ID, w.By)
	return subject, b.String()
}

func (e *Engine) cancellation(w Window) (subject, body string) {
	env := e.envName()
	subject = fmt.Sprintf("Cancelled: maintenance of %s on %s", env, span(w.Start, w.End))
	body = fmt.Sprintf("The maintenance of %s scheduled from %s to %s (window %s) is cancelled.\nCancelled by %s.\n",
		env, w.Start.Format(time.RFC3339), w.End.Format(time.RFC3339), w.ID, e.Actor)
	return subject, body
}

func (e *Engine) envName() string {
	if e.Env == "" {
		return "the service"
	}
	return e.Env
}
