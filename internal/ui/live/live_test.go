package live

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/internal/ui/live/livetest"
)

func frame(green int) Frame {
	return Frame{
		Title: "rollout status", Env: "development", Active: "blue",
		Weights: map[string]int{"blue": 100 - green, "green": green},
		Slots:   []SlotRow{{Name: "blue", Ready: true, Version: "v1"}, {Name: "green", Ready: green > 0, Version: "v2", Detail: "connection refused"}},
		Metrics: []Metric{
			{Name: "error rate", Slot: "green", Values: []float64{0.001, 0.004, 0.02}, Threshold: 0.01, Unit: "ratio"},
			{Name: "p95", Slot: "green", Values: []float64{0.1, math.NaN(), 0.2}, Threshold: 0.5, Unit: "seconds"},
		},
		NextIn: 2 * time.Second,
	}
}

func TestSparkline(t *testing.T) {
	cases := []struct {
		values    []float64
		threshold float64
		n         int
		want      string
	}{
		{[]float64{0, 0.25, 0.5, 0.75, 1}, 1, 0, "▁▂▄▆▇"}, // the threshold is the top of ▇
		{[]float64{0.5, 1.01, 3}, 1, 0, "▄██"},            // only a breach is █
		{[]float64{1, 2, 4, 8}, 0, 0, "▁▂▄█"},             // no threshold: scaled to the maximum
		{[]float64{0.1, math.NaN(), 0.2}, 0.5, 0, "▂·▃"},  // no data is a dot
		{[]float64{0.9, 0.1, 0.2, 0.3}, 0.3, 3, "▃▅▇"},    // the newest n
	}
	for _, c := range cases {
		if got := sparkline(c.values, c.threshold, c.n); got != c.want {
			t.Errorf("sparkline(%v, %v) = %q, want %q", c.values, c.threshold, got, c.want)
		}
	}
}

// On a pipe: one line per change; the same frame again (another time, an
// other countdown) prints nothing.
func TestLinesOnePerChange(t *testing.T) {
	var out bytes.Buffer
	v := New(&out, false, 0)
	at := time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)
	for i, g := range []int{0, 0, 10, 10, 30} {
		f := frame(g)
		f.At, f.NextIn = at.Add(time.Duration(i)*time.Second), time.Duration(i)*time.Second
		if err := v.Draw(f); err != nil {
			t.Fatal(err)
		}
	}
	v.Close()
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) != 3 {
		t.Fatalf("%d lines for 3 changes:\n%s", len(got), out.String())
	}
	want := "2026-12-03T14:00:02Z development: weights blue 90 / green 10; blue ready v1, green ready v2; error rate green 2% BREACH > 1%, p95 green 200ms"
	if got[1] != want {
		t.Fatalf("line:\n got %s\nwant %s", got[1], want)
	}
	if strings.Contains(out.String(), "\x1b") {
		t.Fatalf("escape sequences on a pipe: %q", out.String())
	}
}

// NO_COLOR: no colour codes on a terminal; without it, colour.
func TestNoColor(t *testing.T) {
	colour := regexp.MustCompile(`\x1b\[[0-9;]*m`)
	for _, noColor := range []bool{true, false} {
		if noColor {
			t.Setenv("NO_COLOR", "1")
		} else {
			os.Unsetenv("NO_COLOR")
			t.Setenv("TERM", "xterm-256color")
		}
		var out bytes.Buffer
		v := New(&out, true, 100)
		v.Draw(frame(10))
		if got := colour.MatchString(out.String()); got == noColor {
			t.Errorf("NO_COLOR=%v: colour codes %v:\n%q", noColor, got, out.String())
		}
	}
}

// screenBytes is what the terminal view writes for the frames, closed or not.
func screenBytes(t *testing.T, closeIt bool, frames ...Frame) string {
	var out bytes.Buffer
	v := NewWith(&out, Options{Terminal: true, Width: 100, Height: 30})
	for _, f := range frames {
		if err := v.Draw(f); err != nil {
			t.Fatal(err)
		}
	}
	if closeIt {
		v.Close()
	}
	return out.String()
}

// inTmux plays bytes in a real 100×30 terminal and returns its screen.
func inTmux(t *testing.T, b string) *livetest.Tmux {
	f := write(t, b)
	x := livetest.Start(t, 100, 30, t.TempDir(), []string{"PATH=/usr/bin:/bin", "TERM=screen"}, "sh", "-c", "cat "+f+"; echo; echo END; sleep 30")
	x.WaitForText("END")
	return x
}

// In a terminal the second frame replaces the first: one header, the new
// weights, none of the old rows; a breach reads BREACH.
func TestScreenRedrawsInPlace(t *testing.T) {
	b := screenBytes(t, false, frame(10), frame(30), frame(30))
	if n := strings.Count(b, "\x1b[?1049h"); n != 1 {
		t.Fatalf("entered the alternate screen %d times", n)
	}
	// Read the screen while the alternate screen is still on.
	x := livetest.Start(t, 100, 30, t.TempDir(), []string{"PATH=/usr/bin:/bin", "TERM=screen"}, "sh", "-c", "cat "+write(t, b)+"; sleep 30")
	s := x.WaitForText("30%")
	if n := strings.Count(s, "deployctl · rollout status · development"); n != 1 {
		t.Fatalf("%d headers on the screen:\n%s", n, s)
	}
	for _, want := range []string{"green ███████████████░", "  70%  active", "error rate  green  ▁▃█", "2%", "BREACH", "p95         green  ▂·▃", "✔ ready"} {
		if !strings.Contains(s, want) {
			t.Errorf("the screen lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "90%") || strings.Contains(s, "  10%") {
		t.Errorf("the first frame's weights are still on the screen:\n%s", s)
	}
}

func write(t *testing.T, b string) string {
	f := filepath.Join(t.TempDir(), "out")
	if err := os.WriteFile(f, []byte(b), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// Close leaves the alternate screen, shows the cursor again and leaves the
// last frame, once, on the normal screen.
func TestCloseLeavesTerminalClean(t *testing.T) {
	x := inTmux(t, screenBytes(t, true, frame(10), frame(30)))
	s := x.Screen()
	if alt, cursor := x.Mode(); alt || !cursor {
		t.Fatalf("after Close: alternate screen %v, cursor shown %v", alt, cursor)
	}
	if n := strings.Count(s, "deployctl · rollout status"); n != 1 || !strings.Contains(s, "30%") {
		t.Fatalf("the last frame is not on the screen once:\n%s", s)
	}
}

// A release's frame: the step, the time to the next, the last messages.
func TestStepAndMessages(t *testing.T) {
	f := frame(50)
	f.Title, f.Step, f.StepIndex, f.Steps, f.NextIn = "release v42", "green 50%", 2, 3, 90*time.Second
	f.Messages = []string{"one", "two", "three", "four"}
	s := strings.Join(newStyles(&bytes.Buffer{}, false).render(f, 100), "\n")
	for _, want := range []string{"deployctl · release v42 · development\n", "STEP  step 2 of 3: green 50% · next in 1m30s", "two\nthree\nfour"} {
		if !strings.Contains(s, want) {
			t.Errorf("screen lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "one") {
		t.Errorf("more than the last three messages:\n%s", s)
	}
	if l := line(f); !strings.Contains(l, "; step 2 of 3: green 50%; ") || !strings.HasSuffix(l, "; four") {
		t.Errorf("line: %s", l)
	}
}

// lastRows is the last frame a terminal view wrote, one row a line.
func lastRows(t *testing.T, out string) []string {
	t.Helper()
	i, j := strings.LastIndex(out, beginFrame), strings.LastIndex(out, endFrame)
	if i < 0 || j < i {
		t.Fatalf("no frame in %q", out)
	}
	return strings.Split(strings.ReplaceAll(out[i+len(beginFrame):j], clearLine, ""), "\r\n")
}

// A frame taller than the terminal: its Lines as Fit gives them for the
// room left, so that it fills the rows exactly and keeps every block and
// the newest message at the bottom; with too little room for two Lines,
// the blank rows between the blocks make room first. Without Fit, the
// blank rows go, then the rows above the last: the bottom message stays.
func TestScreenFitsTheRows(t *testing.T) {
	f := frame(10)
	f.Title, f.Messages = "release v1", []string{"note: the newest"}
	for i := range 20 {
		f.Lines = append(f.Lines, "line "+strconv.Itoa(i))
	}
	var asked []int
	f.Fit = func(n int) []string {
		asked = append(asked, n)
		return append([]string{"collapsed"}, f.Lines[len(f.Lines)-n+1:]...)
	}
	draw := func(f Frame, height int) []string {
		var out bytes.Buffer
		v := NewWith(&out, Options{Terminal: true, Width: 100, Height: height})
		if err := v.Draw(f); err != nil {
			t.Fatal(err)
		}
		return lastRows(t, out.String())
	}
	full := len(draw(f, 100))
	for _, height := range []int{30, 24, 16} {
		asked = nil
		rows := draw(f, height)
		s := strings.Join(rows, "\n")
		if len(rows) > height || rows[len(rows)-1] != "note: the newest" || !strings.Contains(s, "collapsed") || !strings.Contains(s, "line 19") {
			t.Errorf("%d rows: %d drawn, Fit asked for %v:\n%s", height, len(rows), asked, s)
		}
		for _, want := range []string{"TRAFFIC", "  blue ", "  green ", "SLOT", "ANALYSIS", "error rate  green", "p95         green"} {
			if !strings.Contains(s, want) {
				t.Errorf("%d rows: the screen lacks %q:\n%s", height, want, s)
			}
		}
		if height >= 24 && (len(rows) != height || asked[0] != 20-(full-height)) {
			t.Errorf("%d rows: %d drawn, Fit asked for %v: the frame does not fill the terminal", height, len(rows), asked)
		}
	}
	f.Fit = nil
	rows := draw(f, 16)
	if len(rows) != 16 || rows[len(rows)-1] != "note: the newest" || !strings.HasPrefix(rows[0], "deployctl · release v1 · development") || strings.Contains(strings.Join(rows, "\n"), "\n\n") {
		t.Errorf("without Fit on 16 rows:\n%s", strings.Join(rows, "\n"))
	}
}
