package dns

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/deployctl/deployctl/pkg/history"
	"github.com/deployctl/deployctl/pkg/provider"
)

// Plan is what `dns failover` will do: the change batch that points the
// PRIMARY record at Want; Batch is empty when it already does.
type Plan struct {
	To     string    `json:"to"` // primary | secondary
	Where  Where     `json:"where"`
	Before Target    `json:"before"`
	Want   Target    `json:"after"`
	Batch  []Change  `json:"changes"`
	RecSet RecordSet `json:"-"`
}

// Lines are the plan for people (the confirmation).
func (p Plan) Lines() []string {
	return []string{
		fmt.Sprintf("%s: PRIMARY record %q", p.Where, p.RecSet.Primary.SetIdentifier),
		"from " + p.Before.String(),
		"to   " + p.Want.String(),
		"health check, set identifier and the SECONDARY record stay as they are",
	}
}

// Result is the outcome of a failover.
type Result struct {
	Plan
	Changed  bool   `json:"changed"`
	DryRun   bool   `json:"dry_run,omitempty"`
	ChangeID string `json:"change_id,omitempty"`
	Status   string `json:"status,omitempty"` // INSYNC once done
	// Note says what happened beside the plan (a lost reply).
	Note string `json:"note,omitempty"`
}

// PlanFailover reads the record set and builds the batch that points the
// PRIMARY record at the standby zone's target (to "secondary") or back at
// its own (to "primary", from the state saved by the switch).
func (e *Engine) PlanFailover(ctx context.Context, to string) (Plan, error) {
	w := e.DNS.Where()
	rs, err := e.DNS.RecordSet(ctx)
	if err != nil {
		return Plan{}, err
	}
	if err := check(rs, w); err != nil {
		return Plan{}, err
	}
	p := Plan{To: to, Where: w, Before: rs.Primary.Target, RecSet: rs}
	switch to {
	case "secondary":
		p.Want = rs.Secondary.Target
	case "primary":
		if !switched(rs) {
			p.Want = rs.Primary.Target
			break
		}
		s, _, err := e.load(ctx)
		if err != nil {
			return Plan{}, err
		}
		if s.Original == nil {
			return Plan{}, fmt.Errorf("the PRIMARY record of %s points at the standby zone (%s) and deployctl has no record of its own target (state %s): point it back by hand with `aws route53 change-resource-record-sets`, see docs/dr.md", w, rs.Primary.Target, StateKey)
		}
		p.Want = *s.Original
	default:
		return Plan{}, fmt.Errorf("--to %q: want primary or secondary", to)
	}
	if !p.Want.Equal(p.Before) {
		next := rs.Primary
		next.Target = p.Want
		p.Batch = []Change{
			{Action: "DELETE", Name: rs.Name, Type: rs.Type, Record: rs.Primary},
			{Action: "CREATE", Name: rs.Name, Type: rs.Type, Record: next},
		}
	}
	return p, nil
}

// Failover applies p (from PlanFailover, confirmed by the operator) under
// the lock, waits until the provider reports the change in sync (at most
// timeout; zero: no limit) and reads the record set back.
func (e *Engine) Failover(ctx context.Context, p Plan, timeout time.Duration) (res Result, err error) {
	res = Result{Plan: p}
	if len(p.Batch) == 0 {
		return res, nil
	}
	err = e.Lock.Do(ctx, "dns failover", func(ctx context.Context) error {
		var ferr error
		res, ferr = e.failover(ctx, p, timeout)
		return ferr
	})
	detail := res.Note
	if res.ChangeID != "" {
		detail = fmt.Sprintf("change %s %s %s", res.ChangeID, res.Status, detail)
	}
	e.History.Record(ctx, provider.Entry{Command: "dns failover --to " + p.To, Before: p.Before.String(), After: p.Want.String(),
		Result: history.Result(err), Detail: detail})
	return res, err
}

func (e *Engine) failover(ctx context.Context, p Plan, timeout time.Duration) (Result, error) {
	res := Result{Plan: p}
	s, ver, err := e.load(ctx)
	if err != nil {
		return res, err
	}
	// Saved before the change: a switch that is applied but not
	// acknowledged can still be undone exactly.
	if p.To == "secondary" {
		if err := e.save(ctx, saved{Original: &p.Before, SwitchedAt: e.now().UTC(), By: e.Actor}, ver); err != nil {
			return res, err
		}
	}
	id, err := e.DNS.Apply(ctx, p.Batch)
	if err != nil {
		if id, err = e.settle(ctx, p, err); err != nil {
			return res, err
		}
		res.Note = "the reply to the change was lost; the record set read back shows it applied"
	}
	res.Changed, res.ChangeID = true, id
	if p.To == "primary" {
		s.Original = nil
		if _, ver, err = e.load(ctx); err == nil {
			err = e.save(ctx, s, ver)
		}
		if err != nil {
			e.note("the PRIMARY record is back on its own target but the state was not cleared: %v", err)
		}
	}
	if res.Status, err = e.wait(ctx, id, timeout); err != nil {
		return res, err
	}
	rs, err := e.DNS.RecordSet(ctx)
	if err != nil {
		return res, fmt.Errorf("the change %s is in sync but reading the record set back failed: %w", id, err)
	}
	if !rs.Primary.Target.Equal(p.Want) {
		return res, fmt.Errorf("the change %s is in sync but the PRIMARY record of %s reads back as %s, not %s: somebody changed it meanwhile; run `deployctl dns status`", id, p.Where, rs.Primary.Target, p.Want)
	}
	return res, nil
}

// settle decides a failed Apply by reading the record set back. A lost
// reply or a rejected batch (the SDK's retry of an applied batch finds the
// DELETE no longer matching) whose target reads back as wanted was applied:
// an UPSERT of the record exactly as it reads back, which changes nothing,
// gives a change id to wait on, since a zone's changes propagate in order.
// Anything else is the error, with the record as it now is.
func (e *Engine) settle(ctx context.Context, p Plan, applyErr error) (string, error) {
	if !errors.Is(applyErr, ErrOutcomeUnknown) && !errors.Is(applyErr, ErrRejected) {
		return "", applyErr
	}
	rs, err := e.DNS.RecordSet(ctx)
	if err != nil {
		return "", fmt.Errorf("%w; reading the record set back failed too (%v): run `deployctl dns status` before trying again", applyErr, err)
	}
	switch {
	case rs.Primary.Target.Equal(p.Want):
		e.note("no answer to the change batch, but the PRIMARY record reads back as %s: it was applied; not sending it again", p.Want)
		return e.DNS.Apply(ctx, []Change{{Action: "UPSERT", Name: rs.Name, Type: rs.Type, Record: rs.Primary}})
	case errors.Is(applyErr, ErrOutcomeUnknown) && rs.Primary.Target.Equal(p.Before):
		e.note("no answer to the change batch and the PRIMARY record reads back unchanged: sending it again")
		return e.DNS.Apply(ctx, p.Batch)
	}
	return "", fmt.Errorf("%w: the PRIMARY record of %s now points at %s, not %s as read before: somebody changed it meanwhile; nothing was changed by this command; run `deployctl dns status` and decide again", applyErr, p.Where, rs.Primary.Target, p.Before)
}

// PendingError is a change that was submitted but not seen in sync.
type PendingError struct {
	ID    string
	Where Where
	Err   error // context.Canceled (Ctrl-C) or context.DeadlineExceeded (--timeout)
}

func (e *PendingError) Error() string {
	why := "the wait was interrupted"
	if errors.Is(e.Err, context.DeadlineExceeded) {
		why = "--timeout was reached"
	}
	return fmt.Sprintf("%s while the change %s was PENDING: the record set is changed and %s keeps propagating it to its name servers; check with `aws route53 get-change --id %s` or `deployctl dns status`", why, e.ID, e.Where.Provider, e.ID)
}

func (e *PendingError) Unwrap() error { return e.Err }

// wait polls the change until it is in sync.
func (e *Engine) wait(ctx context.Context, id string, timeout time.Duration) (string, error) {
	wctx, cancel := ctx, context.CancelFunc(func() {})
	if timeout > 0 {
		wctx, cancel = context.WithTimeoutCause(ctx, timeout, context.DeadlineExceeded)
	}
	defer cancel()
	poll := e.Poll
	if poll <= 0 {
		poll = DefaultPoll
	}
	start := e.now()
	for {
		st, err := e.DNS.ChangeStatus(wctx, id)
		if err == nil && st == InSync {
			return st, nil
		}
		if err != nil && wctx.Err() == nil {
			return "", fmt.Errorf("read the status of change %s: %w", id, err)
		}
		if e.Progress != nil && err == nil {
			e.Progress(id, st, e.now().Sub(start))
		}
		select {
		case <-wctx.Done():
			cause := context.Cause(wctx)
			if ctx.Err() != nil {
				cause = ctx.Err()
			}
			return Pending, &PendingError{ID: id, Where: e.DNS.Where(), Err: cause}
		case <-time.After(poll):
		}
	}
}
