package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/deployctl/deployctl/pkg/analysis"
	"github.com/deployctl/deployctl/pkg/provider"
)

// ErrNothing is a promote or abort with no candidate to act on.
var ErrNothing = errors.New("nothing to do")

// steps plans r from s and checks its preconditions.
func (e *Engine) steps(ctx context.Context, s State, r Request) ([]Step, error) {
	switch r.Op {
	case OpWeight:
		return e.weightSteps(ctx, s, r)
	case OpPromote:
		if s.Candidate == "" {
			return nil, fmt.Errorf("%w: no candidate slot to promote (active is %s at %s); start one with `deployctl rollout %s --weight 10`", ErrNothing, s.Active, s.Weights.String(), s.Active.Other())
		}
		if err := e.ready(ctx, s.Candidate); err != nil {
			return nil, err
		}
		after := provider.Weights{s.Candidate: 100, s.Active: 0}
		return []Step{{Before: s.Weights, After: after, Active: s.Candidate, Note: fmt.Sprintf("%s becomes active, %s stays as standby", s.Candidate, s.Active)}}, nil
	case OpAbort:
		if err := e.ready(ctx, s.Active); err != nil {
			e.notef("the active slot fails its readiness check (%v); sending traffic back to it anyway", err)
		}
		after := provider.Weights{s.Active: 100, s.Active.Other(): 0}
		note := fmt.Sprintf("all traffic back to %s", s.Active)
		if s.Candidate == "" && sameWeights(s.Weights, after) {
			note = "nothing to abort: " + note + " already"
		}
		return []Step{{Before: s.Weights, After: after, Active: s.Active, Note: note}}, nil
	}
	return nil, fmt.Errorf("unknown rollout operation %q", r.Op)
}

func (e *Engine) weightSteps(ctx context.Context, s State, r Request) ([]Step, error) {
	if !r.Slot.Valid() {
		return nil, fmt.Errorf("unknown slot %q: use blue or green", r.Slot)
	}
	weights := r.Steps
	if len(weights) == 0 {
		weights = []int{r.Weight}
	}
	for _, n := range weights {
		if n > 0 {
			if err := e.ready(ctx, r.Slot); err != nil {
				return nil, err
			}
			break
		}
	}
	var out []Step
	before := s.Weights
	for _, n := range weights {
		after := provider.Split(r.Slot, n)
		out = append(out, Step{Before: before, After: after, Active: s.Active})
		before = after
	}
	return out, nil
}

// ready fails with ErrNotReady unless slot passes its readiness check.
func (e *Engine) ready(ctx context.Context, slot provider.Slot) error {
	st, err := e.Router.Slot(ctx, slot)
	if err != nil {
		return fmt.Errorf("check the readiness of %s: %w", slot, err)
	}
	if !st.Ready {
		return fmt.Errorf("%w: %s failed its readiness check (%s); nothing was changed: fix the slot, then retry (deployctl health --slot %s)", ErrNotReady, slot, st.Detail, slot)
	}
	return nil
}

// repair settles a change a killed process left half done, from what the
// data plane actually serves.
func (e *Engine) repair(ctx context.Context, s State, version string) (State, string, error) {
	p := s.Pending
	var before, after State
	if json.Unmarshal(p.Before, &before) != nil || json.Unmarshal(p.After, &after) != nil {
		before, after = s.clone(), s.clone()
	}
	actual, err := e.Router.Weights(ctx)
	if err != nil {
		return s, version, fmt.Errorf("repair the interrupted %q: read the weights: %w", p.Command, err)
	}
	fixed, how := before, "rolled back to the state before it"
	switch {
	case sameWeights(actual, after.Weights):
		fixed, how = after, "completed"
	case !sameWeights(actual, before.Weights):
		fixed.Weights, how = actual, "adopted the weights the data plane serves"
		fixed.Candidate = ""
		if actual[fixed.Active.Other()] > 0 {
			fixed.Candidate = fixed.Active.Other()
		}
	}
	fixed.Revision, fixed.Pending = max(before.Revision, after.Revision, s.Revision)+1, nil
	version, err = save(ctx, e.Store, fixed, version)
	if err != nil {
		return s, version, err
	}
	detail := fmt.Sprintf("interrupted (pid %d, %s); the data plane serves %s: %s", p.PID, p.Actor, actual.String(), how)
	e.notef("repaired the interrupted %q: %s", p.Command, detail)
	e.record(ctx, Request{Command: p.Command + " (repair)"}, before.Weights, actual, "interrupted", detail)
	return fixed, version, nil
}

// analyse waits for the interval, then judges the candidate slot.
func (e *Engine) analyse(ctx context.Context, r Request, i int, st Step) (StepReport, error) {
	rep := StepReport{Step: i + 1, Weight: st.After[r.Slot]}
	e.notef("step %d of %d in effect: %s; analysis at %s (in %s); Ctrl-C stops here and leaves the traffic as it is",
		i+1, len(r.Steps), st.After.String(), e.Now().Add(r.Interval).Format("15:04:05"), r.Interval)
	if err := e.Sleep(ctx, r.Interval); err != nil {
		return rep, interrupted(r, i, st, err)
	}
	var report analysis.Report
	var err error
	if w, ok := e.Analyzer.(analysis.WindowAnalyzer); ok {
		report, err = w.AnalyzeWindow(ctx, r.Slot, r.Interval) // the step's own requests
	} else {
		report, err = e.Analyzer.Analyze(ctx, r.Slot)
	}
	rep.Report = report
	if err != nil {
		rep.Report.Verdict = analysis.Inconclusive
		return rep, &GateError{Verdict: analysis.Inconclusive, Step: rep, Err: err}
	}
	if report.Verdict != analysis.Pass {
		v := report.Verdict
		if v != analysis.Fail {
			v = analysis.Inconclusive // anything but an explicit pass holds the rollout
		}
		return rep, &GateError{Verdict: v, Step: rep}
	}
	return rep, nil
}

// gate acts on a failed analysis: abort on Fail, stay paused otherwise.
func (e *Engine) gate(ctx context.Context, r Request, s State, version string, rep StepReport, err error) (State, error) {
	var ge *GateError
	if !errors.As(err, &ge) {
		return s, err // interrupted while waiting
	}
	if ge.Verdict == analysis.Inconclusive {
		e.record(ctx, r, s.Weights, s.Weights, "paused", ge.Error())
		return s, ge
	}
	abort := Request{Op: OpAbort, Command: r.Command + " (abort by analysis)", Reason: r.Reason}
	back := target(s, Step{After: provider.Weights{s.Active: 100, s.Active.Other(): 0}}, abort)
	if s2, _, err := e.change(ctx, abort, s, back, version); err != nil {
		return s, errors.Join(ge, fmt.Errorf("abort after failed analysis: %w", err))
	} else {
		s = s2
	}
	return s, ge
}

// interrupted says where a rollout stopped between its steps (i, in effect)
// and what the operator runs next: the traffic stays where the step left it.
func interrupted(r Request, i int, st Step, err error) error {
	next := "deployctl rollout " + string(r.Slot) + " --weight " + strconv.Itoa(r.Steps[len(r.Steps)-1])
	if i+1 < len(r.Steps) {
		rest := make([]string, 0, len(r.Steps)-i-1)
		for _, w := range r.Steps[i+1:] {
			rest = append(rest, strconv.Itoa(w))
		}
		next = "deployctl rollout " + string(r.Slot) + " --steps " + strings.Join(rest, ",")
	}
	return fmt.Errorf("interrupted after step %d of %d: the traffic stays at %s; run `deployctl rollout abort` to send it all back to %s, or `%s` to go on: %w",
		i+1, len(r.Steps), st.After.String(), st.Active, next, err)
}
