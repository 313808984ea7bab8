package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/deployctl/deployctl/internal/cli/rollout"
	"github.com/deployctl/deployctl/internal/ui/live"
	"github.com/deployctl/deployctl/pkg/analysis"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/release"
	pkgrollout "github.com/deployctl/deployctl/pkg/rollout"
	"github.com/deployctl/deployctl/pkg/timeutil"
)

// tick is how often the live view is redrawn (the countdown, the time a
// step has taken) and the status of the slots read again.
const tick = 500 * time.Millisecond

// lastRead bounds the status read for the last frame, after the release.
const lastRead = 3 * time.Second

// watch follows the release as it goes. With --watch on a terminal (stderr)
// it is a live view redrawn in place on stderr; otherwise, and with
// --verbose (the debug log writes on stderr as it goes), one line per step
// change on stderr. It returns the function that stops following: call it
// before the outcome is printed (it leaves the live view).
func watch(ctx context.Context, o *Options, e *release.Engine) (stop func()) {
	g := &gateTraffic{Traffic: e.Deps.Traffic, gates: map[string]*pkgrollout.GateError{}}
	if e.Deps.Traffic != nil {
		e.Deps.Traffic = g
	}
	restore := func(stop func()) func() {
		return func() {
			stop()
			if e.Deps.Traffic == g {
				e.Deps.Traffic = g.Traffic
			}
		}
	}
	if o.Watch && o.IO.StderrTTY && !o.Factory.Flags.Verbose {
		stop, err := watchLive(ctx, o, e, g)
		if err == nil {
			return restore(stop)
		}
		o.Factory.Notef("no live view (%v): one line per step change instead", err)
	}
	return restore(watchLines(o, e, g))
}

// watchLines prints one line per step change on stderr; a traffic step the
// analysis stopped also gets its measurements and what can follow.
func watchLines(o *Options, e *release.Engine, g *gateTraffic) (stop func()) {
	last := map[string]release.StepStatus{}
	e.OnChange = func(r release.Record) {
		for _, s := range r.Steps {
			if last[s.Name] == s.Status {
				continue
			}
			last[s.Name] = s.Status
			if s.Status == release.StepPending || s.Status == release.StepRunning { // the step's note said it starts
				continue
			}
			ge := g.of(s.Name)
			line := r.Name() + " " + s.Name + ": " + string(s.Status)
			if d := stepDetail(&r, s, ge); d != "" {
				line += " — " + d
			}
			o.IO.Printf("%s\n", line)
			if s.Status == release.StepFailed && ge != nil {
				for _, l := range gateReport(&r, ge) {
					o.IO.Printf("%s\n", l)
				}
			}
		}
	}
	return func() { e.OnChange = nil }
}

// gateTraffic is the release's traffic engine as the view sees it: a
// traffic step stopped by the analysis comes back with the judgement —
// each measurement's query, value and threshold — of which the record
// keeps only the line in the step's detail (release.GateDetail); the view
// shows the whole of it after the release.
type gateTraffic struct {
	release.Traffic
	mu    sync.Mutex
	gates map[string]*pkgrollout.GateError // traffic step → the judgement that stopped it
}

func (g *gateTraffic) Step(ctx context.Context, slot provider.Slot, weight int, interval time.Duration, analyse bool) (*pkgrollout.StepReport, error) {
	rep, err := g.Traffic.Step(ctx, slot, weight, interval, analyse)
	if ge := (*pkgrollout.GateError)(nil); errors.As(err, &ge) {
		g.mu.Lock()
		g.gates["traffic-"+strconv.Itoa(weight)] = ge
		g.mu.Unlock()
	}
	return rep, err
}

// of is the judgement that stopped the traffic step named step, or nil.
func (g *gateTraffic) of(step string) *pkgrollout.GateError {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.gates[step]
}

// liveWatch is the release's live view: the steps, the current one with the
// time to its analysis, and the traffic and analysis blocks of rollout
// status --watch. It is redrawn on every change of the record, on every
// note and every tick.
//
// The notes the engines print on stderr (f.Notef, warnings, progress) would
// tear the screen: while the view is on, f.IO.ErrOut is swapped for the
// view's note sink, which shows the newest line in the frame; the view
// itself draws on the real stderr. When the view ends those the step list
// did not already say are printed there, so that none is lost.
type liveWatch struct {
	mu       sync.Mutex
	view     live.View
	now      func() time.Time
	rec      *release.Record
	traffic  live.Frame // Active, Weights, Slots: the last status read
	metrics  []live.Metric
	notes    []string // complete lines written to stderr, in order
	partial  []byte   // the line being written (a progress line redrawn with \r)
	st       markStyles
	inEffect map[string]time.Time // traffic step → when the rollout engine noted its weights in effect
	problem  string               // the analysis' last problem, noted once
	gates    *gateTraffic         // the judgements of the traffic steps the analysis stopped
	resumed  int                  // the step a resume went on at (steps before it are not run again); -1: none
	since    time.Time            // when the view began
}

func watchLive(ctx context.Context, o *Options, e *release.Engine, g *gateTraffic) (stop func(), err error) {
	f := o.Factory
	src, err := rollout.NewLiveTraffic(ctx, f, "release --watch")
	if err != nil {
		return nil, err
	}
	errOut := f.IO.ErrOut
	w := &liveWatch{
		view: live.NewWith(errOut, live.Options{Terminal: true, Color: !f.IO.NoColor}),
		now:  f.Now, inEffect: map[string]time.Time{}, st: newMarkStyles(errOut, !f.IO.NoColor),
		gates: g, resumed: -1, since: f.Now(),
	}
	if tr, err := src.Traffic(ctx); err == nil { // the first frame has the bars
		w.traffic = tr
	}
	f.IO.ErrOut = w // the notes go into the frame (see liveWatch)
	e.OnChange = w.changed

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // the countdown and the time taken
		defer wg.Done()
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				w.mu.Lock()
				w.draw()
				w.mu.Unlock()
			}
		}
	}()
	go func() { // the slots, and the analysis every few seconds
		defer wg.Done()
		var measured time.Time
		for ctx.Err() == nil {
			tr, terr := src.Traffic(ctx)
			var ms []live.Metric
			var problem string
			every := w.measureEvery()
			if src.Analyses() && time.Since(measured) >= every {
				measured = time.Now()
				ms, problem = src.Measure(ctx)
			}
			if ctx.Err() != nil {
				return
			}
			w.mu.Lock()
			if terr == nil {
				w.traffic = tr
			}
			if ms != nil {
				w.metrics = ms
			}
			if problem != "" && problem != w.problem {
				w.notes = append(w.notes, problem)
			}
			w.problem = problem
			w.draw()
			w.mu.Unlock()
			if timeutil.Sleep(ctx, tick) != nil {
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			e.OnChange = nil
			w.mu.Lock()
			defer w.mu.Unlock()
			if len(w.partial) > 0 {
				w.notes, w.partial = append(w.notes, strings.TrimSpace(string(w.partial))), nil
			}
			// the last frame has the traffic as the release left it (a
			// breach, a rollback: moved since the last poll), read now
			w.mu.Unlock()
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), lastRead)
			tr, terr := src.Traffic(rctx)
			rcancel()
			w.mu.Lock()
			if terr == nil {
				w.traffic = tr
			}
			w.draw()
			_ = w.view.Close() // the last frame stays on the normal screen
			f.IO.ErrOut = errOut
			for _, n := range w.notes {
				if !stepNote.MatchString(n) {
					fmt.Fprintln(errOut, n)
				}
			}
			if r := w.rec; r != nil && r.Current < len(r.Steps) && r.Steps[r.Current].Status == release.StepFailed {
				if ge := g.of(r.Steps[r.Current].Name); ge != nil {
					for _, l := range gateReport(r, ge) {
						fmt.Fprintln(errOut, l)
					}
				}
			}
		})
	}, nil
}

// stepNote is a note the step list said already: a step of the release
// starts (pkg/release), a traffic step's weights are in effect
// (pkg/rollout). The others are printed again after the live view.
var stepNote = regexp.MustCompile(`^note: (v\d+ step \d+/\d+ |step \d+ of \d+ in effect: )`)

// measureEvery is the time between two points of the analysis sparklines:
// a tenth of the wait before a traffic step's analysis, 1 s to 30 s.
func (w *liveWatch) measureEvery() time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	d := time.Second
	if w.rec != nil {
		d = min(max(w.rec.Interval/10, time.Second), 30*time.Second)
	}
	return d
}

// changed is Engine.OnChange: the record after a save.
func (w *liveWatch) changed(r release.Record) {
	r.Steps = append([]release.StepResult(nil), r.Steps...) // the engine goes on changing its own
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.rec == nil && r.Current > 0 && r.Current < len(r.Steps) && doneBefore(r.Steps[:r.Current], w.since) {
		w.resumed = r.Current // steps were done before this view began, by the process that stopped: a resume
	}
	w.rec = &r
	w.draw()
}

// Write is stderr while the view is on: each line is a note in the frame.
func (w *liveWatch) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range b {
		switch c {
		case '\n':
			line := strings.TrimSpace(string(w.partial))
			w.partial = w.partial[:0]
			if line == "" {
				continue
			}
			w.notes = append(w.notes, line)
			// the rollout engine's "step 1 of 1 in effect: …; analysis at
			// 15:04:05 (in 2m)": the countdown runs from now
			if strings.Contains(line, " in effect: ") && strings.Contains(line, "; analysis at ") && w.rec != nil {
				if name := current(w.rec); strings.HasPrefix(name, "traffic-") {
					w.inEffect[name] = w.now()
				}
			}
		case '\r':
			w.partial = w.partial[:0]
		default:
			w.partial = append(w.partial, c)
		}
	}
	w.draw()
	return len(b), nil
}

var _ io.Writer = (*liveWatch)(nil)

// draw shows the frame; w.mu is held.
func (w *liveWatch) draw() {
	if w.rec == nil {
		return
	}
	_ = w.view.Draw(w.frame(w.now()))
}

// frame is the release's screen at now; w.mu is held. When the steps do
// not fit the terminal's rows, the screen draws those of Fit: the current
// step with the steps around it, the others collapsed (fitSteps).
func (w *liveWatch) frame(now time.Time) live.Frame {
	r := w.rec
	f := w.traffic
	f.Title, f.Env, f.At, f.Metrics = r.Kind+" "+r.Name(), r.Env, now, w.metrics
	rows := stepLines(r, now, w.st, w.gates)
	stepRow := w.st.head.Render("STEP  ") + w.current(now)
	f.Lines = append(append([]string(nil), rows...), stepRow)
	steps, cur, st := append([]release.StepResult(nil), r.Steps...), r.Current, w.st
	f.Fit = func(n int) []string { return append(fitSteps(steps, rows, cur, n-1, st), stepRow) }
	note := strings.TrimSpace(string(w.partial))
	if note == "" && len(w.notes) > 0 {
		note = w.notes[len(w.notes)-1]
	}
	if note != "" {
		f.Messages = []string{note}
	}
	return f
}

// current is the step under way and the time to its analysis, or how the
// release ended; a rollback says it leaves the database alone, a resume
// where it went on.
func (w *liveWatch) current(now time.Time) string {
	r := w.rec
	out := w.progress(now)
	if r.Kind == release.KindRollback && r.Status != release.Succeeded { // the summary of a success says it
		out += fmt.Sprintf(" · rollback to v%d: the database is not touched", r.RollbackOf)
	}
	if i := w.resumed; i > 0 && i < len(r.Steps) && r.Status == release.Running {
		done := "step 1"
		if i > 1 {
			done = fmt.Sprintf("steps 1–%d", i)
		}
		out += fmt.Sprintf(" · resumed at %s; %s not run again", r.Steps[i].Name, done)
	}
	return out
}

func (w *liveWatch) progress(now time.Time) string {
	r := w.rec
	switch {
	case r.Status == release.Succeeded && r.Kind == release.KindRollback: // short: it must fit 80 columns
		return fmt.Sprintf("succeeded: back on v%d — %s serves all traffic; database not touched", r.RollbackOf, r.Slot)
	case r.Status == release.Succeeded:
		return "succeeded: " + summary(r)
	case r.Status == release.Aborted:
		why := ""
		if ge := w.gates.of(current(r)); ge != nil && ge.Verdict == analysis.Fail {
			why = " (the analysis breached)"
		}
		return fmt.Sprintf("aborted at step %s%s: all traffic on %s", current(r), why, r.Active)
	case r.Status != release.Running || r.Current >= len(r.Steps):
		return summary(r)
	}
	s := r.Steps[r.Current]
	out := fmt.Sprintf("%d of %d: %s", r.Current+1, len(r.Steps), s.Name)
	if s.Status != release.StepRunning || s.Started == nil {
		return out
	}
	if strings.HasPrefix(s.Name, "traffic-") && r.Interval > 0 {
		at, ok := w.inEffect[s.Name]
		if !ok || at.Before(*s.Started) {
			at = *s.Started
		}
		left := at.Add(r.Interval).Sub(now)
		if left > 0 {
			return out + " · analysis in " + timeutil.FormatDuration((left + time.Second - 1).Truncate(time.Second))
		}
		return out + " · analysing…"
	}
	return out + " · " + elapsed(now.Sub(*s.Started))
}

// marks are the steps' marks on the screen, by status.
var marks = map[release.StepStatus]string{
	release.StepDone: "✔", release.StepRunning: "▶", release.StepFailed: "✗",
	release.StepSkipped: "–", release.StepPending: "·", release.StepUndone: "↺",
}

// stepLines are the steps, one line each: mark, name, status, time taken
// and detail (the plan of the one running; of one that failed, why).
func stepLines(r *release.Record, now time.Time, st markStyles, g *gateTraffic) []string {
	steps := release.Pipeline(r)
	rel := &release.Release{Record: r}
	nw := 0
	for _, s := range r.Steps {
		nw = max(nw, len(s.Name))
	}
	var out []string
	for i, s := range r.Steps {
		mark, status, detail := marks[s.Status], string(s.Status), stepDetail(r, s, g.of(s.Name))
		took := ""
		switch {
		case s.Status == release.StepSkipped:
		case s.Started != nil && s.Ended != nil:
			took = elapsed(s.Ended.Sub(*s.Started))
		case s.Started != nil && s.Status == release.StepRunning && r.Status == release.Running:
			took = elapsed(now.Sub(*s.Started))
		}
		if s.Status == release.StepRunning {
			if r.Status != release.Running { // stopped there: Ctrl-C, a signal
				mark, status = "‖", string(r.Status)
			} else if detail == "" && i < len(steps) {
				detail = steps[i].Plan(rel)
			}
		}
		if mark == "" {
			mark = "?"
		}
		out = append(out, strings.TrimRight(fmt.Sprintf("  %s %-*s  %-11s %6s  %s", st.mark(s.Status).Render(mark), nw, s.Name, status, took, detail), " "))
	}
	return out
}

// stepDetail is what a step did, as recorded (a failed traffic step's
// detail says why: pkg/release's GateDetail); for a failed step recorded
// without one, the judgement of the analysis that stopped it (ge), else the
// release's error.
func stepDetail(r *release.Record, s release.StepResult, ge *pkgrollout.GateError) string {
	if s.Status != release.StepFailed || s.Detail != "" {
		return s.Detail
	}
	if ge != nil {
		return release.GateDetail(r, ge)
	}
	if r.Current < len(r.Steps) && r.Steps[r.Current].Name == s.Name {
		return r.Error
	}
	return ""
}

// gateReport is what the analysis that stopped a traffic step found, for
// after the release: each measurement with the query as sent, the observed
// value and the threshold, where the traffic is, and what can follow.
func gateReport(r *release.Record, ge *pkgrollout.GateError) []string {
	slot := ge.Step.Report.Slot
	if slot == "" {
		slot = r.Slot
	}
	var out []string
	if ge.Verdict == analysis.Fail {
		out = append(out, fmt.Sprintf("%s %s at step %s: the analysis of the %s slot at %d%% breached", r.Name(), r.Status, current(r), slot, ge.Step.Weight))
	} else {
		out = append(out, fmt.Sprintf("%s %s at step %s: the analysis of the %s slot at %d%% was inconclusive (never counted as a pass)", r.Name(), r.Status, current(r), slot, ge.Step.Weight))
	}
	for _, m := range ge.Step.Report.Measurements {
		observed := release.Measured(m, m.Value)
		if m.Error != "" && m.Value == 0 {
			observed = "none"
		}
		out = append(out, fmt.Sprintf("  %-10s  %-4s  observed %s, threshold %s", release.MetricName(m), m.Verdict, observed, release.Measured(m, m.Threshold)))
		if m.Query != "" {
			out = append(out, "              query: "+m.Query)
		}
		if m.Error != "" {
			out = append(out, "              error: "+m.Error)
		}
	}
	if ge.Verdict == analysis.Fail {
		traffic := r.Traffic.String()
		if r.Traffic == nil {
			traffic = provider.Split(r.Active, 100).String()
		}
		out = append(out, fmt.Sprintf("all traffic is back on %s: %s (read back); %s is finished, aborted", r.Active, traffic, r.Name()))
		// the migrations stay: the engine's note says how to take them back
		return append(out, fmt.Sprintf("next: `deployctl release show %s` has its steps; fix the %s slot (`deployctl health --slot %s`, its logs), then a new `deployctl release`", r.Name(), r.Slot, r.Slot))
	}
	return append(out, fmt.Sprintf("next: `deployctl release resume` judges the step again, `deployctl release abort` sends all traffic back to %s at once", r.Active))
}

// fitSteps are the step rows for n rows of the screen, when all of them do
// not fit: the current step (never left out), the one just done, as many
// of the next as there is room for, then of the earlier ones; the others
// collapsed into a line before them ("✔ 5 steps done, 2 skipped:
// checklist … prepare") and one after them ("· 4 steps pending:
// traffic-50 … health").
func fitSteps(steps []release.StepResult, rows []string, cur, n int, st markStyles) []string {
	if len(rows) <= n {
		return rows
	}
	if n <= 0 || len(rows) == 0 || len(steps) != len(rows) {
		return nil
	}
	cur = min(max(cur, 0), len(rows)-1) // past the end: the release ended; the last steps
	cost := func(lo, hi int) int {
		c := hi - lo + 1
		if lo > 0 {
			c++
		}
		if hi < len(rows)-1 {
			c++
		}
		return c
	}
	lo, hi := cur, cur
	if lo > 0 && cost(lo-1, hi) <= n { // the step just done
		lo--
	}
	for hi < len(rows)-1 && cost(lo, hi+1) <= n { // what comes next
		hi++
	}
	for lo > 0 && cost(lo-1, hi) <= n { // what was done before
		lo--
	}
	before, after := "", ""
	if lo > 0 {
		before = collapsed(steps[:lo], st)
	}
	if hi < len(rows)-1 {
		after = collapsed(steps[hi+1:], st)
	}
	if cost(lo, hi) > n { // not even room for both lines: the one after goes first
		after = ""
	}
	if hi-lo+1+btoi(before != "") > n {
		before = ""
	}
	var out []string
	if before != "" {
		out = append(out, before)
	}
	out = append(out, rows[lo:hi+1]...)
	if after != "" {
		out = append(out, after)
	}
	return out
}

// collapsed is steps on one line: how many are in each status, the first
// and last names.
func collapsed(steps []release.StepResult, st markStyles) string {
	count := map[release.StepStatus]int{}
	for _, s := range steps {
		count[s.Status]++
	}
	var first release.StepStatus
	var parts []string
	for _, s := range []release.StepStatus{release.StepDone, release.StepSkipped, release.StepFailed, release.StepUndone, release.StepRunning, release.StepPending} {
		n := count[s]
		if n == 0 {
			continue
		}
		if first == "" {
			first = s
			word := "steps"
			if n == 1 {
				word = "step"
			}
			parts = append(parts, fmt.Sprintf("%d %s %s", n, word, s))
			continue
		}
		parts = append(parts, fmt.Sprintf("%d %s", n, s))
	}
	names := steps[0].Name
	if len(steps) > 1 {
		names += " … " + steps[len(steps)-1].Name
	}
	mark := marks[first]
	if mark == "" {
		mark = "?"
	}
	return fmt.Sprintf("  %s %s: %s", st.mark(first).Render(mark), strings.Join(parts, ", "), names)
}

// doneBefore reports whether one of steps ended before t.
func doneBefore(steps []release.StepResult, t time.Time) bool {
	for _, s := range steps {
		if s.Ended != nil && s.Ended.Before(t) {
			return true
		}
	}
	return false
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func elapsed(d time.Duration) string {
	if d < time.Minute {
		return d.Round(100 * time.Millisecond).String()
	}
	return timeutil.FormatDuration(d.Round(time.Second))
}

// markStyles colour the marks and the heading (never with NO_COLOR).
type markStyles struct{ head, ok, run, fail, faint lipgloss.Style }

func newMarkStyles(out io.Writer, color bool) markStyles {
	r := lipgloss.NewRenderer(out)
	r.SetColorProfile(termenv.Ascii)
	if color {
		r.SetColorProfile(termenv.ANSI256)
	}
	c := func(n string) lipgloss.Style { return r.NewStyle().Foreground(lipgloss.Color(n)) }
	return markStyles{head: r.NewStyle().Bold(true), ok: c("2"), run: c("3").Bold(true), fail: c("1").Bold(true), faint: r.NewStyle().Faint(true)}
}

func (m markStyles) mark(s release.StepStatus) lipgloss.Style {
	switch s {
	case release.StepDone:
		return m.ok
	case release.StepRunning:
		return m.run
	case release.StepFailed:
		return m.fail
	}
	return m.faint
}
