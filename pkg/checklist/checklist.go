// Package checklist runs the production checklist of the reference
// deployment: seven checks, concurrently, each with a timeout, each ending
// pass, warn, fail or skip with the evidence it rests on (what was run or
// read, when, how long) and, when it fails, what to do. Waivers with a reason
// and an expiry turn a finding into a warning until they expire; an expired
// waiver fails. The engine knows no provider: checks take small interfaces.
package checklist

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/deployctl/deployctl/pkg/history"
	"github.com/deployctl/deployctl/pkg/provider"
)

// Status is the verdict of one check.
type Status string

const (
	Pass Status = "pass"
	Warn Status = "warn" // not blocking: a waived finding, something to look at
	Fail Status = "fail"
	Skip Status = "skip" // does not apply here
)

// The check ids, in the reference deployment's order.
const (
	Tests       = "tests"
	Security    = "security"
	Performance = "performance"
	Migrations  = "migrations"
	Rollback    = "rollback"
	Monitoring  = "monitoring"
	Backups     = "backups"
)

// IDs lists every check id in display order.
var IDs = []string{Tests, Security, Performance, Migrations, Rollback, Monitoring, Backups}

// Outcome is what a check found.
type Outcome struct {
	Status   Status
	Summary  string   // one line for people
	Evidence []string // what was run or read, when, how long
	Fix      string   // on warn or fail: what to do
}

// Check is one item of the checklist.
type Check struct {
	ID  string
	Run func(ctx context.Context) Outcome
}

// Result is a check's outcome as reported, with its timing and waiver.
type Result struct {
	ID         string        `json:"id"`
	Status     Status        `json:"status"`
	Summary    string        `json:"summary"`
	Evidence   []string      `json:"evidence"`
	Fix        string        `json:"fix,omitempty"`
	Waiver     *Waiver       `json:"waiver,omitempty"`
	StartedAt  time.Time     `json:"started_at"`
	DurationMS int64         `json:"duration_ms"`
	Duration   time.Duration `json:"-"`
}

// Report is one run of the checklist.
type Report struct {
	Env    string   `json:"env"`
	OK     bool     `json:"ok"` // nothing failed
	Checks []Result `json:"checks"`
}

// Counts returns how many checks ended in each status.
func (r Report) Counts() map[Status]int {
	c := map[Status]int{}
	for _, res := range r.Checks {
		c[res.Status]++
	}
	return c
}

// Runner runs checks concurrently, each within Timeout.
type Runner struct {
	Checks  []Check
	Waivers []Waiver
	Timeout time.Duration // per check; 0 for none
	Now     func() time.Time
	// History records every run and its verdicts; nil records nothing.
	History *history.Recorder
}

// Run runs the checks whose id is in only (all when only is empty) and
// returns their results in the order of Checks.
func (r *Runner) Run(ctx context.Context, env string, only []string) Report {
	checks := r.selected(only)
	results := make([]Result, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = r.runOne(ctx, c)
		}()
	}
	wg.Wait()
	rep := Report{Env: env, OK: true, Checks: results}
	for _, res := range results {
		if res.Status == Fail {
			rep.OK = false
		}
	}
	if ctx.Err() == nil {
		r.History.Record(ctx, rep.entry(only))
	}
	return rep
}

// entry is the history line of a run: every verdict, and what failed.
func (rep Report) entry(only []string) provider.Entry {
	verdicts := map[string]Status{}
	var failed []string
	for _, c := range rep.Checks {
		verdicts[c.ID] = c.Status
		if c.Status == Fail {
			failed = append(failed, c.ID)
		}
	}
	n := rep.Counts()
	e := provider.Entry{Command: "checklist", After: verdicts, Result: "ok",
		Detail: fmt.Sprintf("%d passed, %d warned, %d failed, %d skipped", n[Pass], n[Warn], n[Fail], n[Skip])}
	if len(only) > 0 {
		e.Command = "checklist --only " + strings.Join(only, ",")
	}
	if !rep.OK {
		e.Result, e.Detail = "failed", e.Detail+"; failed: "+strings.Join(failed, ", ")
	}
	return e
}

func (r *Runner) selected(only []string) []Check {
	if len(only) == 0 {
		return r.Checks
	}
	var out []Check
	for _, c := range r.Checks {
		for _, id := range only {
			if c.ID == id {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

func (r *Runner) runOne(ctx context.Context, c Check) Result {
	start := r.now()
	o := r.runTimed(ctx, c)
	res := Result{ID: c.ID, Status: o.Status, Summary: o.Summary, Evidence: o.Evidence, Fix: o.Fix, StartedAt: start.UTC()}
	res.Duration = r.now().Sub(start)
	res.DurationMS = res.Duration.Milliseconds()
	if res.Evidence == nil {
		res.Evidence = []string{}
	}
	if o.Status != Pass && o.Status != Skip && o.Status != Warn && o.Status != Fail {
		res.Status, res.Summary = Fail, fmt.Sprintf("internal error: check ended %q", o.Status)
	}
	applyWaiver(&res, r.Waivers, start)
	return res
}

// runTimed runs c with its own deadline and returns even when c ignores it.
func (r *Runner) runTimed(ctx context.Context, c Check) Outcome {
	if r.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.Timeout)
		defer cancel()
	}
	done := make(chan Outcome, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- Outcome{Status: Fail, Summary: fmt.Sprintf("internal error: %v", p)}
			}
		}()
		done <- c.Run(ctx)
	}()
	select {
	case o := <-done:
		if ctx.Err() != nil && o.Status != Pass {
			return timedOut(ctx, r.Timeout, o)
		}
		return o
	case <-ctx.Done():
		return timedOut(ctx, r.Timeout, Outcome{})
	}
}

func timedOut(ctx context.Context, d time.Duration, o Outcome) Outcome {
	if ctx.Err() == context.Canceled {
		return Outcome{Status: Fail, Summary: "interrupted", Evidence: o.Evidence}
	}
	return Outcome{
		Status:   Fail,
		Summary:  "timed out after " + d.String(),
		Evidence: o.Evidence,
		Fix:      "make the check faster, or raise checklist.timeout",
	}
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// ParseOnly checks a --only list against the known ids.
func ParseOnly(ids []string) ([]string, error) {
	var out []string
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		if !known(id) {
			return nil, fmt.Errorf("unknown check %q (checks: %s)", id, strings.Join(IDs, ", "))
		}
		out = append(out, id)
	}
	sort.SliceStable(out, func(i, j int) bool { return index(out[i]) < index(out[j]) })
	return out, nil
}

func known(id string) bool { return index(id) >= 0 }

func index(id string) int {
	for i, k := range IDs {
		if k == id {
			return i
		}
	}
	return -1
}
