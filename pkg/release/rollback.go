package release

import (
	"context"
	"fmt"

	"github.com/deployctl/deployctl/pkg/lock"
	"github.com/deployctl/deployctl/pkg/provider"
)

// RollbackRequest returns traffic to an earlier release.
type RollbackRequest struct {
	To      int // release number; 0: the one before the current
	Command string
	Reason  string
	DryRun  bool
}

// Rollback returns traffic to the slot of release To when that slot still
// runs it, and otherwise redeploys its image there (providers that run the
// slots); a release made with a slot URL gets the slot pointed back at that
// URL, once what answers there is checked (SlotURLs). It never touches the
// database. It is itself a numbered release of kind rollback.
func (e *Engine) Rollback(ctx context.Context, r RollbackRequest) (*Record, []Step, error) {
	if r.DryRun {
		d, _, err := load(ctx, e.Store)
		if err != nil {
			return nil, nil, err
		}
		rec, err := e.rollbackRecord(ctx, d, r)
		if err != nil {
			return nil, nil, err
		}
		return rec, Pipeline(rec), nil
	}
	var out *Record
	err := lock.Do(ctx, e.Locker, e.holder(r.Command, r.Reason), func(ctx context.Context) error {
		d, version, err := load(ctx, e.Store)
		if err != nil {
			return err
		}
		rec, err := e.rollbackRecord(ctx, d, r)
		if err != nil {
			return err
		}
		out, err = e.begin(ctx, d, version, rec, fmt.Sprintf("rollback to v%d", rec.RollbackOf),
			fmt.Sprintf("%s of %s started: rollback to v%d on the %s slot", rec.Name(), e.Env, rec.RollbackOf, rec.Slot))
		return err
	})
	return out, nil, err
}

// rollbackRecord is the rollback to r.To: its slot is the standby, which
// must run the target's version, or get its image, or be pointed back at
// its slot URL where that version still answers.
func (e *Engine) rollbackRecord(ctx context.Context, d doc, r RollbackRequest) (*Record, error) {
	if last := d.latest(); last != nil && !last.Status.Finished() {
		return nil, fmt.Errorf("%w: %s is %s; resume or abort it before a rollback (`deployctl release abort` sends the traffic back at once)", ErrUnfinished, last.Name(), describeStatus(*last))
	}
	target, err := rollbackTarget(d, r.To)
	if err != nil {
		return nil, err
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
		return nil, fmt.Errorf("the traffic is split (%s): finish that rollout first (`deployctl rollout abort` sends it all back to %s)", w, st.Active)
	}
	standby := st.Active.Other()
	rec := &Record{
		Number: d.Next, Kind: KindRollback, Env: e.Env, Status: Running, Actor: e.Holder.Actor, Reason: r.Reason,
		Command: r.Command, PID: e.Holder.PID, Host: e.Holder.Host, Slot: standby, Active: st.Active,
		Version: target.Version, Weights: []int{100}, Traffic: w, RollbackOf: target.Number, Started: e.Now().UTC(),
	}
	if rec.SlotURL, err = e.repoint(ctx, standby, target); err != nil {
		return nil, err
	}
	if rec.SlotURL != "" {
		// pointed back at the URL where the target ran: what answers
		// there is checked now, before anything changes
		at, err := e.Deps.Slots.(SlotURLs).Probe(ctx, standby, rec.SlotURL)
		if err != nil {
			return nil, err
		}
		if !at.Ready || target.Version == "" || at.Version != target.Version {
			what := "it runs " + orUnknown(at.Version) + " there now"
			if !at.Ready {
				what = "nothing ready answers there now (" + at.Detail + ")"
			}
			return nil, fmt.Errorf("%s ran at %s, where the rollback would point the %s slot, but %s: start %s's version %s at %s, then retry; nothing was changed, all traffic stays on %s",
				target.Name(), rec.SlotURL, standby, what, target.Name(), orUnknown(target.Version), rec.SlotURL, st.Active)
		}
	} else {
		slot, err := e.Deps.Slots.Status(ctx, standby)
		if err != nil {
			return nil, err
		}
		if target.Version == "" || slot.Version != target.Version {
			if target.Image == "" {
				return nil, fmt.Errorf("the %s slot runs %s, not %s of %s, and %s has no image to redeploy: put that version on the %s slot, then retry",
					standby, orUnknown(slot.Version), orUnknown(target.Version), target.Name(), target.Name(), standby)
			}
			rec.Image = target.Image
		}
	}
	for _, s := range Pipeline(rec) {
		rec.Steps = append(rec.Steps, StepResult{Name: s.Name(), Status: StepPending})
	}
	return rec, nil
}

// repoint is the URL the rollback to target points slot back at: the URL
// target was served from (or released with, --slot-url, in records from
// before served_from), when the slot is served from another one now; ""
// when there is nothing to point (no URL recorded, slots that are not URLs,
// or the slot served from there already).
func (e *Engine) repoint(ctx context.Context, slot provider.Slot, target *Record) (string, error) {
	urls, ok := e.Deps.Slots.(SlotURLs)
	from := firstOf(target.ServedFrom, target.SlotURL)
	if !ok || from == "" {
		return "", nil
	}
	now, err := urls.URL(ctx, slot)
	if err != nil || now == "" || provider.SameSlotURL(now, from) {
		return "", err
	}
	return from, nil
}

// rollbackTarget is release n, or the succeeded release before the newest
// succeeded one.
func rollbackTarget(d doc, n int) (*Record, error) {
	if n != 0 {
		t, err := d.find(n)
		if err != nil {
			return nil, err
		}
		if t.Status != Succeeded {
			return nil, fmt.Errorf("%s %s: only a release that succeeded can be returned to", t.Name(), t.Status)
		}
		if cur := newestSucceeded(d, 0); cur != nil && cur.Number == t.Number {
			return nil, fmt.Errorf("%s is the current release: nothing to roll back to", t.Name())
		}
		return t, nil
	}
	cur := newestSucceeded(d, 0)
	if cur == nil {
		return nil, fmt.Errorf("no release has succeeded yet: nothing to roll back to")
	}
	prev := newestSucceeded(d, cur.Number)
	if prev == nil {
		return nil, fmt.Errorf("%s is the only release that succeeded: nothing before it to roll back to", cur.Name())
	}
	return prev, nil
}

// newestSucceeded is the newest succeeded record numbered below before (0: any).
func newestSucceeded(d doc, before int) *Record {
	for i := len(d.Releases) - 1; i >= 0; i-- {
		r := &d.Releases[i]
		if r.Status == Succeeded && (before == 0 || r.Number < before) {
			return r
		}
	}
	return nil
}
