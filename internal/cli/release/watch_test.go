package release

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/internal/ui/live"
	"github.com/deployctl/deployctl/pkg/release"
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
