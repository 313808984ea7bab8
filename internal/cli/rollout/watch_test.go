package rollout

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/testkit/cmdtest"
	"github.com/deployctl/deployctl/internal/ui/live"
	"github.com/deployctl/deployctl/pkg/analysis"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/rollout"
)

func TestParseStatusWatch(t *testing.T) {
	var got *StatusOptions
	rec := func(o *StatusOptions) error { got = o; return nil }
	if err := cmdtest.Execute(NewCmdStatus(cmdtest.Factory(), rec), "--watch", "--interval", "5s", "--until-stable"); err != nil {
		t.Fatal(err)
	}
	if !got.Watch || got.Interval != 5*time.Second || !got.UntilStable {
		t.Fatalf("parsed %+v", got)
	}
	if err := cmdtest.Execute(NewCmdStatus(cmdtest.Factory(), rec), "-w"); err != nil || got.Interval != 2*time.Second {
		t.Fatalf("-w: %v, interval %s", err, got.Interval)
	}
	for _, c := range []struct {
		args []string
		json bool
		want string
	}{
		{[]string{"--interval", "5s"}, false, "--interval goes with --watch"},
		{[]string{"--until-stable"}, false, "--until-stable goes with --watch"},
		{[]string{"--watch", "--interval", "0s"}, false, "invalid --interval 0s"},
		{[]string{"--watch"}, true, "--watch shows a live view, not JSON"},
	} {
		f := cmdtest.Factory()
		if c.json {
			f.Flags.Output = "json"
		}
		err := cmdtest.Execute(NewCmdStatus(f, func(*StatusOptions) error { t.Fatalf("%v ran", c.args); return nil }), c.args...)
		if app.ExitCode(err) != app.ExitUsage || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v (json %v): %v, want exit 2 with %q", c.args, c.json, err, c.want)
		}
	}
}

// fakeAnalyzer answers a scripted green error rate per poll; blue has no data.
type fakeAnalyzer struct {
	green []float64
	err   error
	n     int
}

func (a *fakeAnalyzer) Analyze(_ context.Context, s provider.Slot) (analysis.Report, error) {
	if s == provider.Blue {
		return analysis.Report{Slot: s, Measurements: []analysis.Measurement{{Name: "error_rate", Threshold: 0.01, Unit: "ratio", Verdict: analysis.Inconclusive}}}, a.err
	}
	v := a.green[min(a.n, len(a.green)-1)]
	a.n++
	return analysis.Report{Slot: s, Measurements: []analysis.Measurement{{Name: "error_rate", Value: v, Threshold: 0.01, Unit: "ratio", Verdict: analysis.Judge(v, 0.01)}}}, nil
}

func status(green int) *rollout.Status {
	return &rollout.Status{Active: provider.Blue, Weights: provider.Weights{provider.Blue: 100 - green, provider.Green: green},
		Health:   map[provider.Slot]rollout.SlotHealth{provider.Blue: {Ready: true}, provider.Green: {Ready: true}},
		Versions: map[provider.Slot]string{provider.Blue: "v1", provider.Green: "v2"}}
}

// watch runs a watcher over scripted statuses with the line view and
// returns its lines and error; the poll after the last status is Ctrl-C.
func watch(t *testing.T, an analysis.Analyzer, untilStable bool, polls ...func() (*rollout.Status, error)) ([]string, error) {
	t.Helper()
	var out bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	w := &watcher{
		Status: func(context.Context) (*rollout.Status, error) {
			p := polls[n]
			n++
			return p()
		},
		Analyzer: an, View: live.New(&out, false, 0), Env: "development", Interval: time.Second, UntilStable: untilStable,
		Now: func() time.Time { return time.Date(2026, 12, 3, 14, 0, n, 0, time.UTC) },
		Sleep: func(ctx context.Context, _ time.Duration) error {
			if n == len(polls) {
				cancel()
			}
			return ctx.Err()
		},
	}
	err := w.run(ctx)
	return strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n"), err
}

func ok(st *rollout.Status) func() (*rollout.Status, error) {
	return func() (*rollout.Status, error) { return st, nil }
}

// One line per change, none for a poll that changed nothing; Ctrl-C is
// exit 130 with nothing more to print.
func TestWatchOneLinePerChange(t *testing.T) {
	lines, err := watch(t, nil, false, ok(status(0)), ok(status(0)), ok(status(30)), ok(status(30)))
	if app.ExitCode(err) != app.ExitInterrupted || !errors.Is(err, context.Canceled) {
		t.Fatalf("Ctrl-C: %v (exit %d), want 130", err, app.ExitCode(err))
	}
	var silent *app.SilentError
	if !errors.As(err, &silent) {
		t.Fatalf("Ctrl-C is reported again: %v", err)
	}
	want := []string{
		"2026-12-03T14:00:01Z development: weights blue 100 / green 0; blue ready v1, green ready v2; last change none",
		"2026-12-03T14:00:03Z development: weights blue 70 / green 30; blue ready v1, green ready v2; last change none",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("lines:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// The analysis: each poll adds a point; no data is a gap, never 0; the
// breach shows; an unreachable Prometheus is shown and the watch goes on.
func TestWatchAnalysis(t *testing.T) {
	an := &fakeAnalyzer{green: []float64{0.001, 0.002, 0.5}}
	var out bytes.Buffer
	w := &watcher{Analyzer: an, Env: "development", Interval: time.Second, Now: time.Now}
	var f live.Frame
	for i := 0; i < 3; i++ {
		f = w.frame(context.Background(), status(30), nil)
	}
	live.New(&out, false, 0).Draw(f)
	if len(f.Metrics) != 2 || f.Metrics[0].Slot != "blue" || f.Metrics[1].Name != "error rate" {
		t.Fatalf("metrics %+v", f.Metrics)
	}
	if g := f.Metrics[1].Values; len(g) != 3 || g[2] != 0.5 || !f.Metrics[1].Breached() {
		t.Fatalf("green: %v", g)
	}
	if b := f.Metrics[0].Values; len(b) != 3 || b[0] == b[0] { // NaN
		t.Fatalf("blue without data: %v, want gaps", b)
	}
	if !strings.Contains(out.String(), "error rate green 50% BREACH > 1%") || !strings.Contains(out.String(), "error rate blue no data") {
		t.Fatalf("line: %s", out.String())
	}
	an.err = &provider.UnreachableError{What: "Prometheus", Err: errors.New("connection refused")}
	if f = w.frame(context.Background(), status(30), nil); !strings.Contains(strings.Join(f.Messages, "\n"), "analysis: ") {
		t.Fatalf("the unreachable Prometheus is not shown: %v", f.Messages)
	}
}

// The first status that cannot be read is the command's error (its exit
// code); a later one is shown and the watch goes on.
func TestWatchStatusErrors(t *testing.T) {
	down := &provider.UnreachableError{What: "state", Err: errors.New("connection refused")}
	fail := func() (*rollout.Status, error) { return nil, down }
	if _, err := watch(t, nil, false, fail); app.ExitCode(err) != app.ExitUnreachable {
		t.Fatalf("first status unreadable: %v, want exit 4", err)
	}
	lines, err := watch(t, nil, false, ok(status(10)), fail, ok(status(10)))
	if app.ExitCode(err) != app.ExitInterrupted || len(lines) != 3 || !strings.Contains(lines[1], "status: ") || !strings.Contains(lines[1], "connection refused") {
		t.Fatalf("a later error: %v\n%s", err, strings.Join(lines, "\n"))
	}
}

// --until-stable: exit 0 once one ready slot serves 100% with nothing under
// way; a held lock or a split is not stable.
func TestWatchUntilStable(t *testing.T) {
	held := status(0)
	held.Lock = &provider.Holder{Actor: "bob", PID: 7, Command: "rollout green --steps 10,100"}
	promoted := status(0)
	promoted.Active, promoted.Weights = provider.Green, provider.Weights{provider.Blue: 0, provider.Green: 100}
	lines, err := watch(t, nil, true, ok(status(10)), ok(held), ok(promoted), ok(promoted))
	if err != nil || len(lines) != 3 {
		t.Fatalf("until stable: %v\n%s", err, strings.Join(lines, "\n"))
	}
	if !strings.Contains(lines[1], "rollout green --steps 10,100 by bob (pid 7)") {
		t.Fatalf("the change under way is not shown: %s", lines[1])
	}
}
