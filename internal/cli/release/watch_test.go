package release

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/internal/ui/live"
	"github.com/deployctl/deployctl/pkg/analysis"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/release"
	pkgrollout "github.com/deployctl/deployctl/pkg/rollout"
)

// The frame of a release waiting for traffic-50's analysis: the marks, the
// plan of the running step, the countdown from the rollout engine's note,
// the note as the last line; a progress line redrawn with \r is one note.
func TestLiveFrame(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)
	now := t0
	rec := &release.Record{Number: 7, Kind: release.KindRelease, Env: "production", Status: release.Running,
		Slot: "green", Active: "blue", Weights: []int{50, 100}, Interval: 2 * time.Minute, Started: t0}
	for _, s := range release.Pipeline(rec) {
		rec.Steps = append(rec.Steps, release.StepResult{Name: s.Name(), Status: release.StepPending})
	}
	for i := range 6 {
		rec.Steps[i].Status, rec.Steps[i].Started, rec.Steps[i].Ended, rec.Steps[i].Detail = release.StepDone, &t0, &t0, "did "+rec.Steps[i].Name
	}
	rec.Steps[0].Status = release.StepSkipped
	started := t0.Add(time.Second)
	rec.Current, rec.Steps[6].Status, rec.Steps[6].Started = 6, release.StepRunning, &started

	var out bytes.Buffer
	w := &liveWatch{view: live.NewWith(&out, live.Options{Terminal: true, Width: 100, Height: 30}), now: func() time.Time { return now },
		inEffect: map[string]time.Time{}, st: newMarkStyles(&out, false)}
	w.changed(*rec)
	fmt.Fprintf(w, "\rbackup: 1 KiB")
	fmt.Fprintf(w, "\rbackup: 2 KiB\n")
	now = t0.Add(5 * time.Second) // the weights took 4 s to be in effect
	fmt.Fprintf(w, "note: step 1 of 1 in effect: blue 50 / green 50; analysis at 14:02:05 (in 2m); Ctrl-C stops here\n")
	now = t0.Add(35 * time.Second)

	f := w.frame(now)
	s := strings.Join(f.Lines, "\n")
	for _, want := range []string{
		"  – checklist ", "  ✔ backup ", "did backup",
		"  ▶ traffic-50          running        34s  set blue 50 / green 50, wait 2m0s, judge",
		"  · traffic-100         pending",
		"STEP  7 of 10: traffic-50 · analysis in 1m30s",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the lines lack %q:\n%s", want, s)
		}
	}
	if f.Title != "release v7" || f.Env != "production" || len(f.Messages) != 1 || !strings.HasPrefix(f.Messages[0], "note: step 1 of 1 in effect") {
		t.Errorf("frame: %q %q %q", f.Title, f.Env, f.Messages)
	}
	if len(w.notes) != 2 || w.notes[0] != "backup: 2 KiB" {
		t.Errorf("notes: %q", w.notes)
	}
	now = t0.Add(3 * time.Minute)
	if got := w.current(now); !strings.HasSuffix(got, "· analysing…") {
		t.Errorf("after the wait: %q", got)
	}
	// stopped by Ctrl-C: the running step is not shown running any more
	rec.Status = release.Interrupted
	w.changed(*rec)
	if s := strings.Join(w.frame(now).Lines, "\n"); !strings.Contains(s, "‖ traffic-50          interrupted") {
		t.Errorf("interrupted:\n%s", s)
	}
	if stepNote.MatchString("note: repaired the interrupted \"x\"") || !stepNote.MatchString("note: v7 step 7/10 traffic-50: set") {
		t.Error("stepNote")
	}
}

// sixSteps is a release of six traffic steps (14 steps in all) at
// traffic-10: the six steps before the traffic finished (two skipped),
// traffic-5 done, traffic-10 running.
func sixSteps(t0 time.Time) *release.Record {
	rec := &release.Record{Number: 3, Kind: release.KindRelease, Env: "production", Status: release.Running,
		Slot: "green", Active: "blue", Weights: []int{5, 10, 25, 50, 75, 100}, Interval: 2 * time.Minute, Started: t0}
	for _, s := range release.Pipeline(rec) {
		rec.Steps = append(rec.Steps, release.StepResult{Name: s.Name(), Status: release.StepPending})
	}
	for i := range 7 {
		rec.Steps[i].Status, rec.Steps[i].Started, rec.Steps[i].Ended, rec.Steps[i].Detail = release.StepDone, &t0, &t0, "did "+rec.Steps[i].Name
	}
	rec.Steps[0].Status, rec.Steps[3].Status = release.StepSkipped, release.StepSkipped
	rec.Current, rec.Steps[7].Status, rec.Steps[7].Started = 7, release.StepRunning, &t0
	return rec
}

// liveOn is a live view of the release drawn on a width×height terminal
// (its bytes in out), with the bars, the slots and the four series of the
// analysis of a real frame.
func liveOn(out *bytes.Buffer, width, height int, now time.Time) *liveWatch {
	return &liveWatch{view: live.NewWith(out, live.Options{Terminal: true, Width: width, Height: height}), now: func() time.Time { return now },
		inEffect: map[string]time.Time{}, st: newMarkStyles(out, false), resumed: -1,
		traffic: live.Frame{Active: "blue", Weights: map[string]int{"blue": 90, "green": 10},
			Slots: []live.SlotRow{{Name: "blue", Ready: true, Version: "v1"}, {Name: "green", Ready: true, Version: "v2"}}},
		metrics: []live.Metric{
			{Name: "error rate", Slot: "blue", Values: []float64{0, 0}, Threshold: 0.01, Unit: "ratio"},
			{Name: "p95", Slot: "blue", Values: []float64{0.1, 0.1}, Threshold: 0.5, Unit: "seconds"},
			{Name: "error rate", Slot: "green", Values: []float64{0, 0}, Threshold: 0.01, Unit: "ratio"},
			{Name: "p95", Slot: "green", Values: []float64{0.1, 0.1}, Threshold: 0.5, Unit: "seconds"},
		}}
}

// lastScreen is the last frame the terminal view wrote, one row a line.
func lastScreen(t *testing.T, out string) []string {
	t.Helper()
	i := strings.LastIndex(out, "\x1b[?2026h\x1b[H")
	j := strings.LastIndex(out, "\x1b[J\x1b[?2026l")
	if i < 0 || j < i {
		t.Fatalf("no frame in %q", out)
	}
	return strings.Split(strings.ReplaceAll(out[i+len("\x1b[?2026h\x1b[H"):j], "\x1b[K", ""), "\r\n")
}

// A release of 14 steps on terminals of 30, 24 and 16 rows: never more
// rows than the terminal has, the note the last row, the current step's
// row and the STEP line, the bars, the slots and the analysis kept; the
// finished steps collapsed into one line, the pending ones after a window
// too; on a tall terminal every step is listed. On 10 rows, where that
// cannot all be, the header, the STEP line and the note are.
func TestWatchFrameFitsTheTerminal(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)
	for _, size := range [][2]int{{100, 30}, {80, 24}, {80, 16}, {60, 10}, {100, 60}} {
		width, height := size[0], size[1]
		t.Run(fmt.Sprintf("%dx%d", width, height), func(t *testing.T) {
			var out bytes.Buffer
			w := liveOn(&out, width, height, t0.Add(10*time.Second))
			w.changed(*sixSteps(t0))
			fmt.Fprintf(w, "note: v3 step 8/14 traffic-10: set blue 90 / green 10, wait 2m0s, judge the green slot's error rate and P95 (a breach sends all traffic back)\n")
			rows := lastScreen(t, out.String())
			s := strings.Join(rows, "\n")
			if len(rows) > height {
				t.Fatalf("%d rows on a terminal of %d:\n%s", len(rows), height, s)
			}
			for _, r := range rows {
				if ansi.StringWidth(r) > width {
					t.Errorf("a row of %d cells on %d columns: %q", ansi.StringWidth(r), width, r)
				}
			}
			if !strings.HasPrefix(rows[len(rows)-1], "note: v3 step 8/14 traffic-10") {
				t.Errorf("the last row is not the note:\n%s", s)
			}
			if height < 16 {
				if rows[0] != "deployctl · release v3 · production" || !strings.Contains(s, "STEP  8 of 14: traffic-10") {
					t.Errorf("a tiny terminal lacks the header or the STEP line:\n%s", s)
				}
				return
			}
			want := []string{"  ▶ traffic-10 ", "STEP  8 of 14: traffic-10 · analysis in 1m50s", "  blue  █", "  green █", "  blue   ✔ ready", "  green  ✔ ready",
				"  error rate  blue ", "  p95         blue ", "  error rate  green ", "  p95         green "}
			for _, x := range want {
				if !strings.Contains(s, x) {
					t.Errorf("the screen lacks %q:\n%s", x, s)
				}
			}
			if height >= 60 {
				for _, st := range []string{"– checklist ", "✔ traffic-5 ", "· traffic-100 ", "· health "} {
					if !strings.Contains(s, st) {
						t.Errorf("a tall terminal lacks the step %q:\n%s", st, s)
					}
				}
				return
			}
			if !regexp.MustCompile(`(?m)^  ✔ \d steps? done(, [12] skipped)?: checklist … `).MatchString(s) {
				t.Errorf("the finished steps are not collapsed into one line:\n%s", s)
			}
			if height >= 24 && (!strings.Contains(s, "✔ traffic-5 ") || !strings.Contains(s, "· traffic-25 ")) {
				t.Errorf("the step done just before the current one or the next one is not shown:\n%s", s)
			}
			switch height {
			case 30: // room for every step to come
				for _, st := range []string{"· traffic-100 ", "· promote ", "· health"} {
					if !strings.Contains(s, st) {
						t.Errorf("the screen lacks the step to come %q:\n%s", st, s)
					}
				}
			case 24:
				if !regexp.MustCompile(`(?m)^  · \d steps pending: traffic-\d+ … health$`).MatchString(s) {
					t.Errorf("the pending steps after the window are not collapsed into one line:\n%s", s)
				}
			}
		})
	}
}

// fitSteps: the current step is never left out, the rows keep their
// order, the collapsed lines count what they hide; n rows at most.
func TestWatchFitSteps(t *testing.T) {
	rec := sixSteps(time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC))
	rows := stepLines(rec, rec.Started, newMarkStyles(&bytes.Buffer{}, false), nil)
	for n := 1; n <= len(rows)+1; n++ {
		got := fitSteps(rec.Steps, rows, rec.Current, n, newMarkStyles(&bytes.Buffer{}, false))
		s := strings.Join(got, "\n")
		if len(got) > n || len(got) == 0 || !strings.Contains(s, "▶ traffic-10 ") {
			t.Fatalf("n=%d: %d rows, the current step in them %v:\n%s", n, len(got), strings.Contains(s, "▶ traffic-10 "), s)
		}
		if n >= len(rows) && s != strings.Join(rows, "\n") {
			t.Errorf("n=%d: room for all, got:\n%s", n, s)
		}
		hidden := 0
		for _, m := range regexp.MustCompile(`(\d+) (?:steps? )?(?:done|skipped|pending)`).FindAllStringSubmatch(s, -1) {
			var k int
			fmt.Sscan(m[1], &k)
			hidden += k
		}
		if shown := strings.Count(s, "\n") + 1 - strings.Count(s, " steps ") - strings.Count(s, " step "); n < len(rows) && n >= 3 && shown+hidden != len(rows) {
			t.Errorf("n=%d: %d rows shown and %d counted, of %d steps:\n%s", n, shown, hidden, len(rows), s)
		}
	}
	// finished: anchored at the last steps
	rec.Current = len(rec.Steps)
	got := fitSteps(rec.Steps, rows, rec.Current, 4, newMarkStyles(&bytes.Buffer{}, false))
	if len(got) != 4 || !strings.Contains(got[len(got)-1], "· health") {
		t.Errorf("after the end:\n%s", strings.Join(got, "\n"))
	}
}

// fakeTraffic answers Step with a breach of the error rate.
type fakeTraffic struct{ release.Traffic }

func (fakeTraffic) Step(context.Context, provider.Slot, int, time.Duration, bool) (*pkgrollout.StepReport, error) {
	return nil, breachAt50()
}

func breachAt50() *pkgrollout.GateError {
	return &pkgrollout.GateError{Verdict: analysis.Fail, Step: pkgrollout.StepReport{Step: 1, Weight: 50, Report: analysis.Report{Slot: "green", Verdict: analysis.Fail,
		Measurements: []analysis.Measurement{
			{Name: "error_rate", Query: `sum(rate(http_requests_total{slot="green",code=~"5.."}[3s]))`, Value: 0.5012, Threshold: 0.01, Unit: "ratio", Verdict: analysis.Fail},
			{Name: "p95", Query: "histogram_quantile(0.95, …)", Value: 0.0048, Threshold: 0.5, Unit: "seconds", Verdict: analysis.Pass},
		}}}}
}

// aborted is the record of a release whose analysis breached at traffic-50.
func aborted(t0 time.Time) *release.Record {
	rec := &release.Record{Number: 1, Kind: release.KindRelease, Env: "development", Status: release.Aborted,
		Slot: "green", Active: "blue", Weights: []int{50, 100}, Interval: 3 * time.Second, Started: t0,
		Traffic: provider.Weights{"blue": 100, "green": 0}, MigrationBefore: new(int64), MigrationAfter: new(int64),
		Error: "analysis failed at step 1 (50%): rollout aborted, all traffic back to the active slot"}
	*rec.MigrationAfter = 1
	for _, s := range release.Pipeline(rec) {
		rec.Steps = append(rec.Steps, release.StepResult{Name: s.Name(), Status: release.StepPending})
	}
	for i := range 6 {
		rec.Steps[i].Status, rec.Steps[i].Started, rec.Steps[i].Ended = release.StepDone, &t0, &t0
	}
	end := t0.Add(3 * time.Second)
	rec.Current, rec.Steps[6].Status, rec.Steps[6].Started, rec.Steps[6].Ended = 6, release.StepFailed, &t0, &end
	return rec
}

// A breach: the failed step's row has the measurement against its
// threshold and where the traffic went, the STEP line says the release
// was aborted there by the analysis; the report for after the release has
// the query, the observed value and the threshold of each measurement,
// and what can follow. The line form says the same. The engine's traffic
// is only watched: watch gives it back when it stops.
func TestWatchFrameBreach(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)
	ios, _, _, errOut := ui.Test()
	fake := fakeTraffic{}
	e := &release.Engine{Deps: release.Deps{Traffic: fake}}
	stop := watch(context.Background(), &Options{IO: ios, Factory: &app.Factory{IO: ios}}, e)
	if _, err := e.Deps.Traffic.Step(context.Background(), "green", 50, 3*time.Second, true); err == nil {
		t.Fatal("the breach did not come through")
	}
	e.OnChange(*aborted(t0))
	stop()
	if e.Deps.Traffic != fake {
		t.Errorf("watch did not give the engine its traffic back: %T", e.Deps.Traffic)
	}
	lines := errOut.String()
	for _, want := range []string{
		"v1 traffic-50: failed — analysis breached: error rate 50.1% > 1%; all traffic back on blue\n",
		"v1 aborted at step traffic-50: the analysis of the green slot at 50% breached\n",
		"  error rate  fail  observed 50.1%, threshold 1%\n",
		`query: sum(rate(http_requests_total{slot="green",code=~"5.."}[3s]))`,
		"  p95         pass  observed 4.8ms, threshold 500ms\n",
		"all traffic is back on blue: blue 100 / green 0 (read back); v1 is finished, aborted\n",
		"next: `deployctl release show v1` has its steps; fix the green slot (`deployctl health --slot green`, its logs), then a new `deployctl release`\n",
	} {
		if !strings.Contains(lines, want) {
			t.Errorf("the lines lack %q:\n%s", want, lines)
		}
	}

	var out bytes.Buffer
	w := liveOn(&out, 100, 30, t0.Add(4*time.Second))
	w.gates = &gateTraffic{gates: map[string]*pkgrollout.GateError{"traffic-50": breachAt50()}}
	w.changed(*aborted(t0))
	s := strings.Join(w.frame(w.now()).Lines, "\n")
	for _, want := range []string{
		"  ✗ traffic-50          failed          3s  analysis breached: error rate 50.1% > 1%; all traffic back on blue",
		"  · traffic-100         pending",
		"STEP  aborted at step traffic-50 (the analysis breached): all traffic on blue",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the frame lacks %q:\n%s", want, s)
		}
	}
	// a step that failed otherwise shows the release's error
	w.gates = nil
	rec := aborted(t0)
	rec.Status, rec.Error = release.Failed, "check the readiness of green: connection refused"
	w.changed(*rec)
	if s := strings.Join(w.frame(w.now()).Lines, "\n"); !strings.Contains(s, "✗ traffic-50          failed          3s  check the readiness of green: connection refused") {
		t.Errorf("a failed step without its error:\n%s", s)
	}
}

// A rollback's traffic step, running: all traffic to the slot at once,
// not judged by design (its plan, as in the dry run), never "no analysis
// configured"; the STEP line says the database is not
// touched. A resume: the STEP line says where it went on and that the
// steps before were not run again.
func TestWatchFrameRollbackAndResume(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)
	rb := &release.Record{Number: 3, Kind: release.KindRollback, Env: "development", Status: release.Running,
		Slot: "green", Active: "blue", Weights: []int{100}, RollbackOf: 1, Version: "v2", Started: t0}
	for _, s := range release.Pipeline(rb) {
		rb.Steps = append(rb.Steps, release.StepResult{Name: s.Name(), Status: release.StepPending})
	}
	rb.Steps[0].Status, rb.Steps[0].Started, rb.Steps[0].Ended = release.StepDone, &t0, &t0
	rb.Current, rb.Steps[1].Status, rb.Steps[1].Started = 1, release.StepRunning, &t0
	var out bytes.Buffer
	w := liveOn(&out, 100, 30, t0)
	w.since = t0
	w.changed(*rb)
	s := strings.Join(w.frame(t0).Lines, "\n")
	for _, want := range []string{"▶ traffic-100  running         0s  all traffic to green at once: blue 0 / green 100, no analysis: a rollback returns to a release that ran",
		"STEP  2 of 4: traffic-100 · 0s · rollback to v1: the database is not touched"} {
		if !strings.Contains(s, want) {
			t.Errorf("the rollback's frame lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "prometheus_url is not set") || strings.Contains(s, "resumed") {
		t.Errorf("the rollback's frame:\n%s", s)
	}
	rb.Status, rb.Current = release.Succeeded, 4
	w.changed(*rb)
	if got := w.current(t0); got != "succeeded: back on v1 — green serves all traffic; database not touched" || len([]rune("STEP  "+got)) > 80 {
		t.Errorf("the rollback's end: %q", got)
	}

	w = liveOn(&out, 100, 30, t0.Add(time.Hour))
	w.since = t0.Add(time.Hour) // the steps before traffic-10 ended before this view
	w.changed(*sixSteps(t0))
	if got := w.current(w.now()); !strings.HasSuffix(got, " · resumed at traffic-10; steps 1–7 not run again") {
		t.Errorf("a resume: %q", got)
	}
}
