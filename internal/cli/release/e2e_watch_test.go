package release_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/internal/ui/live/livetest"
)

const releaseHeader = "deployctl · release v1 · development"

// rowOf is the screen line that starts with prefix (after indentation).
func rowOf(screen, prefix string) string {
	for _, l := range strings.Split(screen, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), prefix) {
			return l
		}
	}
	return ""
}

// waitScreen waits up to a minute (a release's first steps take a while on
// a shared machine) until the terminal's screen satisfies ok.
func waitScreen(t *testing.T, x *livetest.Tmux, what string, ok func(string) bool) string {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		s := x.Screen()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("the terminal never showed %s:\n%s", what, s)
		}
	}
}

// On a terminal the release is one screen redrawn in place (the default,
// no --watch given): while traffic-50 waits for its analysis, the step list
// marks it running, the bars read 50/50, the countdown to the analysis
// runs, the slots and the analysis from the real Prometheus are shown, the
// engines' notes stay inside the frame, and there is one header. At the end
// the alternate screen is left and the final step table stays on the
// normal screen; exit 0.
func TestE2EReleaseWatchTerminal(t *testing.T) {
	p := newProject(t)
	argv := append([]string{"sh", "-c", `"$0" "$@"; echo "exit=$?"; sleep 60`, bin.deployctl}, releaseArgs...)
	env := append(append([]string(nil), p.env...), "DEPLOYCTL_ACTOR=alice", "TERM=xterm-256color")
	x := livetest.Start(t, 100, 30, p.dir, env, argv...)

	s := waitScreen(t, x, "traffic-50 running at 50/50 with the countdown to its analysis", func(s string) bool {
		return strings.Contains(rowOf(s, "▶ traffic-50"), "running") &&
			strings.Contains(rowOf(s, "blue "), " 50%  active") && strings.Contains(rowOf(s, "green "), " 50%") &&
			strings.Contains(s, "STEP  7 of 10: traffic-50 · analysis in ")
	})
	t.Logf("the live screen:\n%s", s)
	if alt, _ := x.Mode(); !alt {
		t.Fatalf("the live view is not on the alternate screen:\n%s", s)
	}
	if n := strings.Count(s, releaseHeader); n != 1 || !strings.HasPrefix(s, releaseHeader) || strings.Count(s, "TRAFFIC") != 1 {
		t.Fatalf("%d headers, or not at the top: the screen was not redrawn in place:\n%s", n, s)
	}
	blue, green := rowOf(s, "blue "), rowOf(s, "green ")
	if nb, ng := strings.Count(blue, "█"), strings.Count(green, "█"); nb == 0 || nb != ng {
		t.Fatalf("the bars do not show 50/50 (%d and %d cells):\n%s", nb, ng, s)
	}
	for _, want := range []string{"✔ backup", "✔ migrate", "✔ prepare", "– checklist", "· traffic-100", "· promote", "· health",
		"SLOT", "✔ ready", "v1", "v2", "ANALYSIS", "error rate  green", "p95         green"} {
		if !strings.Contains(s, want) {
			t.Errorf("the live screen lacks %q:\n%s", want, s)
		}
	}
	// the notes are inside the frame (its last line), never torn over it
	if n := strings.Count(s, "note: "); n > 1 {
		t.Errorf("%d notes on the live screen, want the last one only:\n%s", n, s)
	}
	if !regexp.MustCompile(`(?m)^note: .*in effect`).MatchString(s) {
		t.Errorf("the rollout engine's note is not the frame's last note:\n%s", s)
	}

	s = waitScreen(t, x, "the end", func(s string) bool { return strings.Contains(s, "exit=") })
	t.Logf("the screen after the release:\n%s", s)
	if !strings.Contains(s, "exit=0") {
		t.Fatalf("want exit 0:\n%s", s)
	}
	if alt, cursor := x.Mode(); alt || !cursor {
		t.Fatalf("after the release: alternate screen %v, cursor shown %v:\n%s", alt, cursor, s)
	}
	for _, want := range []string{"release v1 of development: succeeded (blue → green)", "STEP", "STATUS", "TOOK", "DETAIL", "traffic-50", "v1 succeeded: green serves all traffic"} {
		if !strings.Contains(s, want) {
			t.Errorf("the final table lacks %q:\n%s", want, s)
		}
	}
	if !regexp.MustCompile(`(?m)^promote +done `).MatchString(s) {
		t.Errorf("the final table has no done promote row:\n%s", s)
	}
}

// Without a terminal the same release prints one line per step change
// (also with --watch given), and no escape sequence.
func TestE2EReleaseWatchPipe(t *testing.T) {
	p := newProject(t)
	r := p.must(append(releaseArgs, "--watch")...)
	for _, want := range []string{"v1 backup: done — backup ", "v1 migrate: done — migrated from version 0 to 1", "v1 traffic-50: done — blue 50 / green 50 in effect", "v1 promote: done", "v1 succeeded"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr+r.stdout, "\x1b") {
		t.Fatalf("escape sequences on a pipe:\n%q\n%q", r.stdout, r.stderr)
	}
	if n := strings.Count(r.stderr, "v1 traffic-50: done"); n != 1 {
		t.Fatalf("traffic-50's line %d times:\n%s", n, r.stderr)
	}
}

// Ctrl-C while traffic-50 waits for its analysis: the live view is left,
// the terminal is clean (normal screen, cursor shown), the table says
// where the release stopped and the error the three ways on; exit 130.
func TestE2EReleaseWatchCtrlC(t *testing.T) {
	p := newProject(t)
	argv := append([]string{"sh", "-c", `trap : INT; "$0" "$@"; echo "exit=$?"; sleep 60`, bin.deployctl}, releaseArgs...)
	env := append(append([]string(nil), p.env...), "DEPLOYCTL_ACTOR=alice", "TERM=xterm-256color")
	x := livetest.Start(t, 100, 30, p.dir, env, argv...)
	waitScreen(t, x, "the countdown of traffic-50", func(s string) bool {
		return strings.Contains(s, "STEP  7 of 10: traffic-50 · analysis in ") && strings.Contains(rowOf(s, "green "), " 50%")
	})
	x.Keys("C-c")
	s := waitScreen(t, x, "the end", func(s string) bool { return strings.Contains(s, "exit=") })
	t.Logf("the screen after Ctrl-C:\n%s", s)
	if !strings.Contains(s, "exit=130") {
		t.Fatalf("Ctrl-C: want exit 130:\n%s", s)
	}
	if alt, cursor := x.Mode(); alt || !cursor {
		t.Fatalf("after Ctrl-C: alternate screen %v, cursor shown %v:\n%s", alt, cursor, s)
	}
	for _, want := range []string{"release v1 of development: interrupted (blue → green)", "interrupted at step traffic-50", "release resume"} {
		if !strings.Contains(s, want) {
			t.Errorf("after Ctrl-C the screen lacks %q:\n%s", want, s)
		}
	}
}
