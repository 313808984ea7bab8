package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/deployctl/deployctl/pkg/analysis"
	"github.com/deployctl/deployctl/pkg/history"
	"github.com/deployctl/deployctl/pkg/lock"
	"github.com/deployctl/deployctl/pkg/provider"
)

// Engine runs rollout operations for one environment.
type Engine struct {
	Router   provider.TrafficRouter
	Locker   provider.Locker
	Store    provider.StateStore
	History  *history.Recorder // nil records nothing
	Analyzer analysis.Analyzer // needed for Steps only
	Env      string
	Holder   provider.Holder // who runs this; Command is set per operation
	Now      func() time.Time
	// Notef reports what an operator should know (a repair, a paused step).
	Notef func(format string, a ...any)
	// Sleep waits between steps; tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
	// Confirm, when set, is asked with the plan (computed under the lock)
	// before anything changes; an error stops the command unchanged.
	Confirm func(plan []Step) error
}

// Op is what to do.
type Op string

const (
	OpWeight  Op = "weight"
	OpPromote Op = "promote"
	OpAbort   Op = "abort"
)

// Request is one rollout command.
type Request struct {
	Op       Op
	Slot     provider.Slot // OpWeight
	Weight   int           // OpWeight without Steps
	Steps    []int         // OpWeight: weights of Slot, one after the other
	Interval time.Duration // between steps, before each analysis
	Image    string
	// ImageTimeout bounds the wait for the slot to get ready on Image
	// (0: the provider's own default).
	ImageTimeout time.Duration
	DryRun       bool
	Command      string // as the operator typed it, for the lock and the history
	Reason       string
}

// Result says what happened.
type Result struct {
	Plan     []Step
	Before   State
	After    State
	DryRun   bool
	Reports  []StepReport // one per analysed step
	Repaired string       // a note when an interrupted change was repaired
	// DataPlane is the data plane after the change, for providers that can
	// say (provider.DataPlane); down, the weights were stored, not read
	// back from a running data plane.
	DataPlane *provider.DataPlaneStatus
}

// Step is one change of weights in a plan.
type Step struct {
	Before provider.Weights `json:"before"`
	After  provider.Weights `json:"after"`
	Active provider.Slot    `json:"active"`
	Note   string           `json:"note,omitempty"`
}

// StepReport is the analysis after one step.
type StepReport struct {
	Step   int             `json:"step"` // 1-based
	Weight int             `json:"weight"`
	Report analysis.Report `json:"report"`
}

// GateError is a rollout stopped by analysis: Verdict Fail (aborted, traffic
// back to the active slot) or Inconclusive (paused at the current step).
type GateError struct {
	Verdict analysis.Verdict
	Step    StepReport
	Err     error // the analyzer's own error, if any
}

func (e *GateError) Unwrap() error { return e.Err }

func (e *GateError) Error() string {
	if e.Verdict == analysis.Fail {
		return fmt.Sprintf("analysis failed at step %d (%d%%): rollout aborted, all traffic back to the active slot", e.Step.Step, e.Step.Weight)
	}
	msg := fmt.Sprintf("analysis inconclusive at step %d (%d%%): rollout paused there, never counted as a pass; check the metrics, then run the next step or `deployctl rollout abort`", e.Step.Step, e.Step.Weight)
	if e.Err != nil {
		msg += fmt.Sprintf(" (%v)", e.Err)
	}
	return msg
}

// ErrNotReady is a target slot whose readiness failed: nothing changed.
var ErrNotReady = errors.New("slot not ready")

func (e *Engine) notef(format string, a ...any) {
	if e.Notef != nil {
		e.Notef(format, a...)
	}
}

func (e *Engine) holder(r Request) provider.Holder {
	h := e.Holder
	h.Command, h.Reason = r.Command, r.Reason
	if h.Since.IsZero() {
		h.Since = e.Now().UTC()
	}
	return h
}

// Run carries out r. A dry run takes no lock and changes nothing.
func (e *Engine) Run(ctx context.Context, r Request) (*Result, error) {
	if r.DryRun {
		return e.plan(ctx, r)
	}
	var res *Result
	err := lock.Do(ctx, e.Locker, e.holder(r), func(ctx context.Context) error {
		var err error
		res, err = e.run(ctx, r)
		return err
	})
	return res, err
}

// plan loads the state, checks preconditions and returns the steps.
func (e *Engine) plan(ctx context.Context, r Request) (*Result, error) {
	s, _, err := load(ctx, e.Store)
	if err != nil {
		return nil, err
	}
	steps, err := e.steps(ctx, s, r)
	if err != nil {
		return nil, err
	}
	return &Result{Plan: steps, Before: s, After: s, DryRun: true}, nil
}

func (e *Engine) run(ctx context.Context, r Request) (*Result, error) {
	s, version, err := load(ctx, e.Store)
	if err != nil {
		return nil, err
	}
	res := &Result{Before: s}
	if s.Pending != nil {
		if s, version, err = e.repair(ctx, s, version); err != nil {
			return res, err
		}
		res.Repaired, res.Before = "repaired", s
	}
	// the new image first: the readiness check is about what will serve
	if r.Image != "" {
		if err := e.setImage(ctx, r); err != nil {
			return res, err
		}
	}
	if res.Plan, err = e.steps(ctx, s, r); err != nil {
		return res, err
	}
	if e.Confirm != nil {
		if err := e.Confirm(res.Plan); err != nil {
			return res, err
		}
	}
	res.After, err = e.apply(ctx, r, s, version, res)
	res.DataPlane = e.dataPlane(ctx)
	return res, err
}

func (e *Engine) setImage(ctx context.Context, r Request) error {
	is, ok := e.Router.(provider.ImageSetter)
	if !ok {
		return fmt.Errorf("--image: %w, which does not run the slots; deploy the new version to the %s slot yourself, then run this without --image", provider.ErrUnsupported, r.Slot)
	}
	if r.ImageTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.ImageTimeout)
		defer cancel()
	}
	if err := is.SetImage(ctx, r.Slot, r.Image); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("the %s slot did not get ready on %s within %s; traffic was not shifted (see its pods), or raise --timeout: %w", r.Slot, r.Image, r.ImageTimeout, err)
		}
		return err
	}
	return nil
}

// apply performs the planned steps, analysing between them when asked.
func (e *Engine) apply(ctx context.Context, r Request, s State, version string, res *Result) (State, error) {
	var err error
	for i, st := range res.Plan {
		next := target(s, st, r)
		if s, version, err = e.change(ctx, r, s, next, version); err != nil {
			return s, err
		}
		if len(r.Steps) == 0 {
			continue
		}
		rep, err := e.analyse(ctx, r, i, st)
		res.Reports = append(res.Reports, rep)
		if err != nil {
			return e.gate(ctx, r, s, version, rep, err)
		}
	}
	return s, nil
}

// target is the state after step st of r.
func target(s State, st Step, r Request) State {
	n := s.clone()
	n.Weights = st.After
	switch r.Op {
	case OpPromote:
		n.Active, n.Candidate = st.Active, ""
	case OpAbort:
		if s.Candidate != "" {
			n.Aborted = &Aborted{Slot: s.Candidate, Revision: s.Revision}
		}
		n.Candidate = ""
	case OpWeight:
		n.Candidate = ""
		if other := s.Active.Other(); st.After[other] > 0 {
			n.Candidate = other
		}
	}
	return n
}

// change moves the environment from s to next: intent saved first, then the
// provider, a read-back, the state and the history.
func (e *Engine) change(ctx context.Context, r Request, s, next State, version string) (State, string, error) {
	now := e.Now().UTC()
	next.Revision = s.Revision + 1
	next.Last = &Change{At: now, Actor: e.Holder.Actor, Command: r.Command, Reason: r.Reason}
	if next.Aborted != nil && next.Aborted.At.IsZero() {
		next.Aborted.At = now
	}
	intent := s.clone()
	before, _ := json.Marshal(s.clone())
	after, _ := json.Marshal(next)
	intent.Pending = &Pending{Command: r.Command, Actor: e.Holder.Actor, PID: e.Holder.PID, Since: now, Before: before, After: after}
	version, err := save(ctx, e.Store, intent, version)
	if err != nil {
		return s, version, err
	}
	if err := e.setAndVerify(ctx, next.Weights); err != nil {
		e.record(ctx, r, s.Weights, next.Weights, "failed", err.Error())
		return s, version, err
	}
	if version, err = save(ctx, e.Store, next, version); err != nil {
		return s, version, err
	}
	e.record(ctx, r, s.Weights, next.Weights, "ok", "")
	return next, version, nil
}

// setAndVerify sets w and reads the weights back from the data plane.
func (e *Engine) setAndVerify(ctx context.Context, w provider.Weights) error {
	if err := e.Router.SetWeights(ctx, w); err != nil {
		return fmt.Errorf("set weights %s: %w", w.String(), err)
	}
	got, err := e.Router.Weights(ctx)
	if err != nil {
		return fmt.Errorf("read the weights back: %w", err)
	}
	if !sameWeights(got, w) {
		return fmt.Errorf("the weights read back as %s, not the %s just set; the change did not take effect: run `deployctl rollout status` and retry", got.String(), w.String())
	}
	return nil
}

func (e *Engine) record(ctx context.Context, r Request, before, after provider.Weights, result, detail string) {
	e.History.Record(ctx, provider.Entry{
		Time: e.Now().UTC(), Env: e.Env, Actor: e.Holder.Actor, Command: r.Command,
		Before: before, After: after, Reason: r.Reason, Result: result, Detail: detail,
	})
}

// dataPlane asks the router whether its data plane serves; nil when it
// cannot say (its weights come from the service itself).
func (e *Engine) dataPlane(ctx context.Context) *provider.DataPlaneStatus {
	dp, ok := e.Router.(provider.DataPlane)
	if !ok {
		return nil
	}
	st := dp.DataPlane(ctx)
	return &st
}
