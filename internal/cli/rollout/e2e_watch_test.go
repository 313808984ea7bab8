package rollout_test

import (
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/deployctl/deployctl/internal/testbin"
	"github.com/deployctl/deployctl/internal/ui/live/livetest"
	"github.com/deployctl/deployctl/pkg/analysis/prometheus/promtest"
)

const watchHeader = "deployctl · rollout status · development"

// watchInTmux runs `deployctl rollout status --watch args…` in a real
// 100×30 terminal (tmux); the shell prints its exit status and stays.
func (p *project) watchInTmux(env []string, args ...string) *livetest.Tmux {
	p.t.Helper()
	argv := append([]string{"sh", "-c", `trap : INT; "$0" rollout status --watch "$@"; echo "exit=$?"; sleep 60`, bin.deployctl}, args...)
	env = append(append(os.Environ(), "DEPLOYCTL_ACTOR=watcher", "TERM=xterm-256color"), env...)
	return livetest.Start(p.t, 100, 30, p.dir, env, argv...)
}

// rowOf is the screen line that starts with prefix (after indentation).
func rowOf(screen, prefix string) string {
	for _, l := range strings.Split(screen, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), prefix) {
			return l
		}
	}
	return ""
}

// In a terminal the watch redraws one screen in place: a weight change made
// by another operator shows as bars and numbers, with one header on the
// screen, never two; a narrower window is redrawn to fit; Ctrl-C exits
// 130 and leaves the terminal clean, the last frame on it.
func TestE2EWatchTerminal(t *testing.T) {
	p := newProject(t, "")
	p.startSlot("blue")
	p.startSlot("green")
	p.startProxy()
	x := p.watchInTmux(nil, "--interval", "100ms")
	s := x.WaitForText("100%  active")
	if !strings.Contains(rowOf(s, "green "), "  0%") || !strings.Contains(s, "last change none") {
		t.Fatalf("the first screen:\n%s", s)
	}

	p.must("rollout", "green", "--weight", "30", "--reason", "canary")
	s = x.WaitFor("blue at 70%, the change done", func(s string) bool {
		return strings.Contains(rowOf(s, "blue "), "70%  active") && strings.Contains(s, "(canary)")
	})
	blue, green := rowOf(s, "blue "), rowOf(s, "green ")
	if nb, ng := strings.Count(blue, "█"), strings.Count(green, "█"); nb == 0 || ng == 0 || nb+ng != strings.Count(blue, "█")+strings.Count(blue, "░") ||
		(ng*100+(nb+ng)/2)/(nb+ng) != 30 || !strings.Contains(green, " 30%") {
		t.Fatalf("the bars do not show 70/30:\n%s", s)
	}
	for _, want := range []string{"✔ ready", "v1", "v2", "rollout green --weight 30", "(canary)"} {
		if !strings.Contains(s, want) {
			t.Errorf("the screen lacks %q:\n%s", want, s)
		}
	}
	if n := strings.Count(s, watchHeader); n != 1 || strings.Count(s, "TRAFFIC") != 1 {
		t.Fatalf("%d headers: the screen was not redrawn in place:\n%s", n, s)
	}
	if alt, _ := x.Mode(); !alt {
		t.Fatalf("the watch is not on the alternate screen")
	}

	x.Resize(60, 30)
	s = x.WaitFor("the screen redrawn at 60 columns", func(s string) bool {
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, "  blue ") && ansi.StringWidth(strings.TrimRight(l, " ")) <= 60 && strings.Contains(l, "70%") {
				return true
			}
		}
		return false
	})
	if n := strings.Count(s, watchHeader); n != 1 {
		t.Fatalf("after the resize %d headers:\n%s", n, s)
	}

	x.Keys("C-c")
	s = x.WaitForText("exit=")
	if !strings.Contains(s, "exit=130") {
		t.Fatalf("Ctrl-C: want exit 130:\n%s", s)
	}
	if alt, cursor := x.Mode(); alt || !cursor {
		t.Fatalf("after Ctrl-C: alternate screen %v, cursor shown %v:\n%s", alt, cursor, s)
	}
	if strings.Count(s, watchHeader) != 1 || !strings.Contains(s, "70%  active") || strings.Contains(s, "error:") {
		t.Fatalf("after Ctrl-C the last frame should stay, once, without an error:\n%s", s)
	}
}

var stamp = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ `)

// On a pipe the watch prints one line per change: a line for the start,
// one when another operator moves the weights, none while nothing changes
// (many polls), consecutive lines never equal; SIGINT exits 130 silently.
func TestE2EWatchPipe(t *testing.T) {
	p := newProject(t, "")
	p.startSlot("blue")
	p.startSlot("green")
	p.startProxy()
	w := p.background(p.proxy+"/-/health", "rollout", "status", "--watch", "--interval", "20ms")
	lines := func() []string { return strings.Split(strings.TrimSuffix(w.Output(), "\n"), "\n") }
	waitFor(t, "the first line", func() bool { return strings.Contains(w.Output(), "\n") })
	idle := func(what string) {
		before := w.Output()
		time.Sleep(500 * time.Millisecond) // 25 polls of an unchanged rollout
		if after := w.Output(); after != before {
			t.Fatalf("%s: lines while nothing changed:\n%s", what, after)
		}
	}
	idle("at the start")
	p.must("rollout", "green", "--weight", "30")
	waitFor(t, "the line of the new weights, the change done", func() bool {
		ls := lines()
		return strings.Contains(ls[len(ls)-1], "weights blue 70 / green 30; blue ready v1, green ready v2; last change")
	})
	idle("after the change")
	w.Cmd.Process.Signal(syscall.SIGINT)
	<-w.Done()
	if code := w.Cmd.ProcessState.ExitCode(); code != 130 {
		t.Fatalf("SIGINT: exit %d, want 130:\n%s", code, w.Output())
	}
	ls := lines()
	if len(ls) < 2 || !strings.Contains(ls[0], "development: weights blue 100 / green 0; blue ready v1, green ready v2; last change none") ||
		!strings.Contains(ls[len(ls)-1], "weights blue 70 / green 30") {
		t.Fatalf("lines:\n%s", w.Output())
	}
	for i, l := range ls {
		if !stamp.MatchString(l) || strings.Contains(l, "\x1b") {
			t.Fatalf("line %d is not a plain time-stamped line: %q", i, l)
		}
		if i > 0 && stamp.ReplaceAllString(l, "") == stamp.ReplaceAllString(ls[i-1], "") {
			t.Fatalf("line %d repeats the one before:\n%s", i, w.Output())
		}
	}
}

// --until-stable ends the watch with exit 0 once the promotion is done.
func TestE2EWatchUntilStable(t *testing.T) {
	p := newProject(t, "")
	p.startSlot("blue")
	p.startSlot("green")
	p.startProxy()
	p.must("rollout", "green", "--weight", "50")
	w := p.background(p.proxy+"/-/health", "rollout", "status", "--watch", "--interval", "20ms", "--until-stable")
	waitFor(t, "the first line", func() bool { return strings.Contains(w.Output(), "weights blue 50 / green 50") })
	p.must("rollout", "promote")
	<-w.Done()
	if code := w.Cmd.ProcessState.ExitCode(); code != 0 || !strings.Contains(w.Output(), "weights blue 0 / green 100") {
		t.Fatalf("exit %d, want 0 after the promotion:\n%s", code, w.Output())
	}
}

// With analysis configured the watch shows each slot's error rate and P95
// from a real Prometheus scraping the slots, as sparklines against their
// thresholds: green, failing half its real requests through the proxy,
// reads BREACH; blue's P95 reads ok and so does its error rate: without a
// single 5xx series, 0% (the default query's "or vector(0)"), since blue
// answered requests (no requests at all would be no data, never 0).
func TestE2EWatchAnalysis(t *testing.T) {
	promtest.Require(t)
	p := newProject(t, "")
	p.startSlot("blue")
	p.startSlot("green", "--error-rate", "0.5")
	prom := promtest.Start(t, promtest.Options{Scrape: []string{strings.TrimPrefix(p.blue, "http://"), strings.TrimPrefix(p.green, "http://")}})
	prom.WaitScraped(t)
	p.startProxy()
	p.must("rollout", "green", "--weight", "50")
	stop := make(chan struct{})
	defer close(stop)
	go func() { // real requests through the proxy make the numbers
		c := &http.Client{Timeout: 2 * time.Second}
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
				version(c, p.proxy+"/")
			}
		}
	}()
	x := p.watchInTmux([]string{"DEPLOYCTL_ANALYSIS_PROMETHEUS_URL=" + prom.URL}, "--interval", "300ms")
	s := x.WaitFor("green's error rate breached, blue's P95 ok", func(s string) bool {
		return strings.Contains(rowOf(s, "error rate  green"), "BREACH") && strings.HasSuffix(strings.TrimSpace(rowOf(s, "p95         blue")), "ok") &&
			strings.HasSuffix(strings.TrimSpace(rowOf(s, "error rate  blue")), "ok")
	})
	if blue := rowOf(s, "error rate  blue"); !strings.HasSuffix(strings.TrimSpace(blue), "ok") || !strings.Contains(blue, " 0%") {
		t.Fatalf("blue's error rate row: %q\n%s", blue, s)
	}
	green, p95 := rowOf(s, "error rate  green"), rowOf(s, "p95         green")
	if !strings.Contains(green, "█") || !strings.Contains(green, " 1%") || !regexp.MustCompile(` [0-9.]+%`).MatchString(green) {
		t.Fatalf("green's error rate row: %q\n%s", green, s)
	}
	if !strings.Contains(p95, "500ms") || !regexp.MustCompile(`[0-9.]+ms`).MatchString(p95) {
		t.Fatalf("green's p95 row: %q\n%s", p95, s)
	}
	if strings.Count(s, watchHeader) != 1 || !strings.Contains(s, "ANALYSIS") {
		t.Fatalf("screen:\n%s", s)
	}
	t.Logf("the screen:\n%s", s)
	x.Keys("C-c")
	if s := x.WaitForText("exit="); !strings.Contains(s, "exit=130") {
		t.Fatalf("Ctrl-C:\n%s", s)
	}
}

// A resized window is redrawn at once to its new width (SIGWINCH), not at
// the next poll an hour later.
func TestE2EWatchRedrawsOnResize(t *testing.T) {
	p := newProject(t, "")
	x := p.watchInTmux(nil, "--interval", "1h")
	cells := func(s string) int { r := rowOf(s, "blue "); return strings.Count(r, "█") + strings.Count(r, "░") }
	if s := x.WaitForText("100%  active"); cells(s) != 50 {
		t.Fatalf("at 100 columns the bars have %d cells, want 50:\n%s", cells(s), s)
	}
	x.Resize(50, 30)
	s := x.WaitFor("bars of 27 cells", func(s string) bool { return cells(s) == 27 })
	if strings.Count(s, watchHeader) != 1 {
		t.Fatalf("after the resize:\n%s", s)
	}
}

// On a terminal the watch has colour, and none with NO_COLOR (CLI.md).
func TestE2EWatchNoColor(t *testing.T) {
	p := newProject(t, "")
	colour := regexp.MustCompile(`\x1b\[[0-9;]*3[0-9;]*m`)
	for _, noColor := range []bool{false, true} {
		cmd := exec.Command(bin.deployctl, "rollout", "status", "--watch", "--interval", "1h")
		cmd.Dir, cmd.Env = p.dir, append(os.Environ(), "DEPLOYCTL_ACTOR=watcher", "TERM=xterm-256color")
		if noColor {
			cmd.Env = append(cmd.Env, "NO_COLOR=1")
		}
		term := testbin.StartTerminal(t, cmd)
		term.WaitFor("active")
		term.Type("\x03")
		if code := term.Exit(); code != 130 {
			t.Fatalf("NO_COLOR=%v: exit %d\n%q", noColor, code, term.Output())
		}
		if got := colour.MatchString(term.Output()); got == noColor {
			t.Errorf("NO_COLOR=%v: colour codes %v:\n%q", noColor, got, term.Output())
		}
	}
}
