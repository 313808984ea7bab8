// Package release carries out a whole release as one resumable command:
// an ordered list of steps (checklist, backup, rehearsal, migrations, the
// candidate slot, traffic steps with analysis, promotion, health), each
// recorded in a numbered release in the environment's StateStore as it
// goes, so that a release killed at any point can be resumed at the step
// that was running, or aborted in reverse as far as that is safe.
package release

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/deployctl/deployctl/pkg/history"
	"github.com/deployctl/deployctl/pkg/lock"
	"github.com/deployctl/deployctl/pkg/provider"
)

// Kinds of record.
const (
	KindRelease  = "release"
	KindRollback = "rollback"
)

// Events a release sends (pkg/notify's kinds).
const (
	EventStarted   = "release.started"
	EventSucceeded = "release.succeeded"
	EventFailed    = "release.failed"
	EventAborted   = "release.aborted"
	EventBreached  = "release.step_breached"
)

// Notifier sends an event to the environment's notification targets and
// returns the deliveries that failed, for people; it never fails a release.
type Notifier func(ctx context.Context, kind, summary string, fields map[string]string) (failures []string)

// Engine carries out releases of one environment.
type Engine struct {
	Store   provider.StateStore
	Locker  provider.Locker
	Holder  provider.Holder // who runs this; Command is set per operation
	History *history.Recorder
	Notify  Notifier
	Env     string
	Now     func() time.Time
	Notef   func(format string, a ...any)
	Deps    Deps
	// OnChange is called with the record after every save (the live view).
	OnChange func(Record)
}

// Request is a new release.
type Request struct {
	Image, SlotURL string
	Weights        []int
	Interval       time.Duration
	Analyse        bool // analysis is configured: judge each traffic step
	SkipChecklist  bool
	Fast           bool // checksum-level backup verification instead of a restore
	Command        string
	Reason         string
}

// ErrUnfinished is a new release refused because the last one is not done.
var ErrUnfinished = errors.New("unfinished release")

func (e *Engine) notef(format string, a ...any) {
	if e.Notef != nil {
		e.Notef(format, a...)
	}
}

func (e *Engine) holder(command, reason string) provider.Holder {
	h := e.Holder
	h.Command, h.Reason = command, reason
	if h.Since.IsZero() {
		h.Since = e.Now().UTC()
	}
	return h
}

// Plan is the release r would be, without a lock or a change: for --dry-run.
func (e *Engine) Plan(ctx context.Context, r Request) (*Record, []Step, error) {
	d, _, err := load(ctx, e.Store)
	if err != nil {
		return nil, nil, err
	}
	rec, err := e.newRecord(ctx, d, r)
	if err != nil {
		return nil, nil, err
	}
	return rec, Pipeline(rec), nil
}

func (e *Engine) newRecord(ctx context.Context, d doc, r Request) (*Record, error) {
	// an unfinished release comes first: its split traffic is its own
	if last := d.latest(); last != nil && !last.Status.Finished() {
		return nil, fmt.Errorf("%w: %s is %s at step %q; run `deployctl release resume` to go on or `deployctl release abort` to undo it", ErrUnfinished, last.Name(), describeStatus(*last), stepName(*last))
	}
	st, err := e.Deps.Traffic.State(ctx)
	if err != nil {
		return nil, err
	}
	w, err := e.Deps.Traffic.Weights(ctx)
	if err != nil {
		return nil, err
	}
	if w[st.Active] != 100 {
		return nil, fmt.Errorf("the traffic is split (%s) outside a release: finish that rollout first (`deployctl rollout promote` or `deployctl rollout abort`)", w)
	}
	level := "restore"
	if r.Fast {
		level = "checksum"
	}
	interval := r.Interval
	if !r.Analyse {
		interval = 0
	}
	rec := &Record{
		Number: d.Next, Kind: KindRelease, Env: e.Env, Status: Running, Actor: e.Holder.Actor, Reason: r.Reason,
		Command: r.Command, PID: e.Holder.PID, Host: e.Holder.Host, Image: r.Image, SlotURL: r.SlotURL,
		Slot: st.Active.Other(), Active: st.Active, Weights: r.Weights, Interval: interval, Traffic: w,
		SkipChecklist: r.SkipChecklist, VerifyLevel: level, Started: e.Now().UTC(),
	}
	for _, s := range Pipeline(rec) {
		rec.Steps = append(rec.Steps, StepResult{Name: s.Name(), Status: StepPending})
	}
	return rec, nil
}

// Start numbers a new release and carries it out under the lock.
func (e *Engine) Start(ctx context.Context, r Request) (*Record, error) {
	var out *Record
	err := lock.Do(ctx, e.Locker, e.holder(r.Command, r.Reason), func(ctx context.Context) error {
		d, version, err := load(ctx, e.Store)
		if err != nil {
			return err
		}
		rec, err := e.newRecord(ctx, d, r)
		if err != nil {
			return err
		}
		out, err = e.begin(ctx, d, version, rec, "", fmt.Sprintf("%s of %s started: %s to the %s slot", rec.Name(), e.Env, orUnknown(firstOf(rec.Image, rec.SlotURL)), rec.Slot))
		return err
	})
	return out, err
}

// begin numbers rec as the newest release of d, saves it, says it started
// (history, notifications) and carries it out.
func (e *Engine) begin(ctx context.Context, d doc, version string, rec *Record, detail, summary string) (*Record, error) {
	d.Next++
	d.Releases = append(d.Releases, *rec)
	version, err := save(ctx, e.Store, d, version)
	if err != nil {
		return nil, err
	}
	e.changed(*rec)
	e.record(ctx, rec, "started", detail)
	e.notify(ctx, rec, EventStarted, summary)
	return e.run(ctx, d, version)
}

// Resume goes on with the newest release at the step that was running,
// after checking that step's precondition again.
func (e *Engine) Resume(ctx context.Context, command string) (*Record, error) {
	var out *Record
	err := lock.Do(ctx, e.Locker, e.holder(command, ""), func(ctx context.Context) error {
		d, version, err := load(ctx, e.Store)
		if err != nil {
			return err
		}
		last := d.latest()
		if last == nil {
			return fmt.Errorf("nothing to resume: %s has no release yet", e.Env)
		}
		if last.Status.Finished() {
			return fmt.Errorf("nothing to resume: %s %s", last.Name(), last.Status)
		}
		if last.Status == Running {
			e.notef("%s was running (pid %d on %s), which no longer holds the lock: it was killed; resuming at step %q", last.Name(), last.PID, last.Host, stepName(*last))
		}
		last.PID, last.Host, last.Status, last.Error = e.Holder.PID, e.Holder.Host, Running, ""
		rel := e.release(ctx, last, &d, &version)
		steps := Pipeline(last)
		if last.Current < len(steps) {
			if rc, ok := steps[last.Current].(Rechecker); ok {
				if err := rc.Recheck(ctx, rel); err != nil {
					return fmt.Errorf("cannot resume %s at step %q: %w", last.Name(), steps[last.Current].Name(), err)
				}
			}
		}
		if version, err = save(ctx, e.Store, d, version); err != nil {
			return err
		}
		e.record(ctx, last, "resumed", "at step "+stepName(*last))
		out, err = e.run(ctx, d, version)
		return err
	})
	return out, err
}

// run carries out the newest release of d from its current step.
func (e *Engine) run(ctx context.Context, d doc, version string) (*Record, error) {
	rec := d.latest()
	rel := e.release(ctx, rec, &d, &version)
	steps := Pipeline(rec)
	for rec.Current < len(steps) {
		st, res := steps[rec.Current], &rec.Steps[rec.Current]
		now := e.Now().UTC()
		res.Status, res.Started, res.Ended, res.Detail = StepRunning, &now, nil, ""
		if err := rel.Save(ctx); err != nil {
			return rec, err
		}
		e.notef("%s step %d/%d %s: %s", rec.Name(), rec.Current+1, len(steps), st.Name(), st.Plan(rel))
		detail, err := st.Run(ctx, rel)
		end := e.Now().UTC()
		res.Detail, res.Ended = detail, &end
		switch {
		case errors.Is(err, errSkipped):
			res.Status = StepSkipped
		case err != nil:
			return rec, e.stopped(ctx, rel, res, err)
		default:
			res.Status = StepDone
		}
		e.record(ctx, rec, "step "+st.Name(), detail)
		rec.Current++
		if err := rel.Save(ctx); err != nil {
			return rec, err
		}
	}
	end := e.Now().UTC()
	rec.Status, rec.Ended = Succeeded, &end
	e.notify(ctx, rec, EventSucceeded, fmt.Sprintf("%s of %s succeeded: %s serves all traffic, version %s", rec.Name(), e.Env, rec.Slot, orUnknown(rec.Version)))
	if err := rel.Save(ctx); err != nil {
		return rec, err
	}
	e.record(ctx, rec, "ok", "")
	return rec, nil
}

// stopped records a step that failed or was interrupted.
func (e *Engine) stopped(ctx context.Context, rel *Release, res *StepResult, err error) error {
	rec := rel.Record
	ctx = context.WithoutCancel(ctx) // the record must be written after a Ctrl-C
	res.Status, rec.Status, rec.Error = StepFailed, Failed, err.Error()
	event := EventFailed
	switch ge, ok := breach(err); {
	case ok:
		// the rollout engine already sent the traffic back to the active slot
		res.Status, rec.Status = StepFailed, Aborted
		end := e.Now().UTC()
		rec.Ended = &end
		if w, werr := rel.Deps.Traffic.Weights(ctx); werr == nil {
			rec.Traffic = w
		}
		e.notify(ctx, rec, EventBreached, fmt.Sprintf("%s of %s: the %s slot breached the analysis at %d%%", rec.Name(), e.Env, rec.Slot, ge.Step.Weight))
		event = EventAborted
		if msg, _ := (migrateStep{}).Undo(ctx, rel); msg != "" {
			e.notef("%s", msg)
		}
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		res.Status, rec.Status = StepRunning, Interrupted
		event = ""
		if w, werr := rel.Deps.Traffic.Weights(ctx); werr == nil {
			rec.Traffic = w
		}
	}
	if serr := rel.Save(ctx); serr != nil {
		err = errors.Join(err, serr)
	}
	if event != "" {
		e.notify(ctx, rec, event, fmt.Sprintf("%s of %s %s at step %s: %s", rec.Name(), e.Env, rec.Status, res.Name, err))
	}
	e.record(ctx, rec, string(rec.Status), "step "+res.Name+": "+err.Error())
	if rec.Status == Interrupted {
		return &InterruptedError{Record: *rec, Err: err}
	}
	return &StepError{Record: *rec, Step: res.Name, Err: err}
}

// Abort undoes the newest unfinished release in reverse, as far as it is
// safe: traffic back to the active slot at once; migrations are never
// rolled back (the commands to do it are printed).
func (e *Engine) Abort(ctx context.Context, command, reason string) (*Record, []string, error) {
	var out *Record
	var said []string
	err := lock.Do(ctx, e.Locker, e.holder(command, reason), func(ctx context.Context) error {
		d, version, err := load(ctx, e.Store)
		if err != nil {
			return err
		}
		rec := d.latest()
		if rec == nil || rec.Status.Finished() {
			if rec == nil {
				return fmt.Errorf("nothing to abort: %s has no release yet", e.Env)
			}
			if rec.Status == Succeeded {
				return fmt.Errorf("nothing to abort: %s succeeded; run `deployctl rollback` to return to the release before it", rec.Name())
			}
			return fmt.Errorf("nothing to abort: %s is already %s", rec.Name(), rec.Status)
		}
		rel := e.release(ctx, rec, &d, &version)
		steps := Pipeline(rec)
		for i := min(rec.Current, len(steps)-1); i >= 0; i-- {
			res := &rec.Steps[i]
			if res.Status == StepPending || res.Status == StepSkipped || res.Status == StepUndone {
				continue
			}
			msg, err := steps[i].Undo(ctx, rel)
			if err != nil {
				return errors.Join(err, rel.Save(context.WithoutCancel(ctx)))
			}
			res.Status = StepUndone
			if msg != "" {
				res.Detail = msg
				said = append(said, msg)
			}
		}
		end := e.Now().UTC()
		rec.Status, rec.Ended = Aborted, &end
		if reason != "" {
			rec.Error = "aborted: " + reason
		}
		e.notify(ctx, rec, EventAborted, fmt.Sprintf("%s of %s aborted by %s", rec.Name(), e.Env, e.Holder.Actor))
		if err := rel.Save(ctx); err != nil {
			return err
		}
		e.record(ctx, rec, "aborted", strings.Join(said, "; "))
		out = rec
		return nil
	})
	return out, said, err
}

// List returns the kept releases, newest first.
func (e *Engine) List(ctx context.Context) ([]Record, error) {
	d, _, err := load(ctx, e.Store)
	if err != nil {
		return nil, err
	}
	out := make([]Record, 0, len(d.Releases))
	for i := len(d.Releases) - 1; i >= 0; i-- {
		out = append(out, d.Releases[i])
	}
	return out, nil
}

// Show returns release n (0: the newest).
func (e *Engine) Show(ctx context.Context, n int) (*Record, error) {
	d, _, err := load(ctx, e.Store)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		if last := d.latest(); last != nil {
			return last, nil
		}
		return nil, fmt.Errorf("%s has no release yet: %w", e.Env, ErrNoRelease)
	}
	return d.find(n)
}

// release binds rec to the engines and to saving it in d.
func (e *Engine) release(_ context.Context, rec *Record, d *doc, version *string) *Release {
	return &Release{Record: rec, Deps: &e.Deps, Notef: e.Notef, Save: func(ctx context.Context) error {
		v, err := save(context.WithoutCancel(ctx), e.Store, *d, *version)
		if err != nil {
			return err
		}
		*version = v
		e.changed(*rec)
		return nil
	}}
}

func (e *Engine) changed(r Record) {
	if e.OnChange != nil {
		e.OnChange(r)
	}
}

func (e *Engine) notify(ctx context.Context, r *Record, kind, summary string) {
	if e.Notify == nil {
		return
	}
	fields := map[string]string{"release": r.Name(), "slot": string(r.Slot), "status": string(r.Status)}
	if r.Image != "" {
		fields["image"] = r.Image
	}
	if r.Error != "" {
		fields["error"] = r.Error
	}
	for _, f := range e.Notify(context.WithoutCancel(ctx), kind, summary, fields) {
		r.Notifications = append(r.Notifications, kind+": "+f)
	}
}

func (e *Engine) record(ctx context.Context, r *Record, result, detail string) {
	cmd := r.Kind + " " + r.Name()
	e.History.Record(context.WithoutCancel(ctx), provider.Entry{
		Time: e.Now().UTC(), Env: e.Env, Actor: e.Holder.Actor, Command: cmd,
		After:  map[string]any{"release": r.Name(), "status": r.Status, "step": stepName(*r), "backup": r.BackupID, "version": r.Version},
		Reason: r.Reason, Result: result, Detail: detail,
	})
}

// StepError is a release stopped by a failed step: exit 1.
type StepError struct {
	Record Record
	Step   string
	Err    error
}

func (e *StepError) Error() string {
	return e.Record.Name() + " stopped at step " + e.Step + ": " + e.Err.Error()
}
func (e *StepError) Unwrap() error { return e.Err }

// InterruptedError is a release stopped by Ctrl-C or a signal: the traffic
// stays where it is.
type InterruptedError struct {
	Record Record
	Err    error
}

func (e *InterruptedError) Error() string {
	r := e.Record
	return fmt.Sprintf("%s interrupted at step %s; the traffic stays at %s. Next: `deployctl release resume` to go on, `deployctl release abort` to send all traffic back to %s, or `deployctl rollout promote` to finish the cutover by hand",
		r.Name(), stepName(r), r.Traffic, r.Active)
}
func (e *InterruptedError) Unwrap() error { return e.Err }

func stepName(r Record) string {
	if r.Current < len(r.Steps) {
		return r.Steps[r.Current].Name
	}
	return "end"
}

func describeStatus(r Record) string {
	if r.Status == Running {
		return "still marked running (its process was killed)"
	}
	return string(r.Status)
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
