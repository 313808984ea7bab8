package release

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/deployctl/deployctl/internal/cli/rollout"
	"github.com/deployctl/deployctl/internal/ui/live"
	"github.com/deployctl/deployctl/pkg/release"
	"github.com/deployctl/deployctl/pkg/timeutil"
)

// tick is how often the live view is redrawn (the countdown, the time a
// step has taken) and the status of the slots read again.
const tick = 500 * time.Millisecond

// watch follows the release as it goes. With --watch on a terminal (stderr)
// it is a live view redrawn in place on stderr; otherwise, and with
// --verbose (the debug log writes on stderr as it goes), one line per step
// change on stderr. It returns the function that stops following: call it
// before the outcome is printed (it leaves the live view).
func watch(ctx context.Context, o *Options, e *release.Engine) (stop func()) {
	if o.Watch && o.IO.StderrTTY && !o.Factory.Flags.Verbose {
		stop, err := watchLive(ctx, o, e)
		if err == nil {
			return stop
		}
		o.Factory.Notef("no live view (%v): one line per step change instead", err)
	}
	return watchLines(o, e)
}

// watchLines prints one line per step change on stderr.
func watchLines(o *Options, e *release.Engine) (stop func()) {
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
			line := r.Name() + " " + s.Name + ": " + string(s.Status)
			if s.Detail != "" {
				line += " — " + s.Detail
			}
			o.IO.Printf("%s\n", line)
		}
	}
	return func() { e.OnChange = nil }
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
}

func watchLive(ctx context.Context, o *Options, e *release.Engine) (stop func(), err error) {
	f := o.Factory
	src, err := rollout.NewLiveTraffic(ctx, f, "release --watch")
	if err != nil {
		return nil, err
	}
	errOut := f.IO.ErrOut
	w := &liveWatch{
		view: live.NewWith(errOut, live.Options{Terminal: true, Color: !f.IO.NoColor}),
		now:  f.Now, inEffect: map[string]time.Time{}, st: newMarkStyles(errOut, !f.IO.NoColor),
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
			w.draw()
			_ = w.view.Close() // the last frame stays on the normal screen
			f.IO.ErrOut = errOut
			for _, n := range w.notes {
				if !stepNote.MatchString(n) {
					fmt.Fprintln(errOut, n)
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

// frame is the release's screen at now; w.mu is held.
func (w *liveWatch) frame(now time.Time) live.Frame {
	r := w.rec
	f := w.traffic
	f.Title, f.Env, f.At, f.Metrics = r.Kind+" "+r.Name(), r.Env, now, w.metrics
	f.Lines = append(stepLines(r, now, w.st), w.st.head.Render("STEP  ")+w.current(now))
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
// release ended.
func (w *liveWatch) current(now time.Time) string {
	r := w.rec
	switch {
	case r.Status == release.Succeeded:
		return "succeeded: " + summary(r)
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
// and detail (the plan of the one running).
func stepLines(r *release.Record, now time.Time, st markStyles) []string {
	steps := release.Pipeline(r)
	rel := &release.Release{Record: r}
	nw := 0
	for _, s := range r.Steps {
		nw = max(nw, len(s.Name))
	}
	var out []string
	for i, s := range r.Steps {
		mark, status, detail := marks[s.Status], string(s.Status), s.Detail
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
