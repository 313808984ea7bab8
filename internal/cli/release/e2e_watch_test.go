package release_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/deployctl/deployctl/internal/testkit"
	"github.com/deployctl/deployctl/internal/ui/live/livetest"
)

const releaseHeader = "deployctl · release v1 · development"

// inTerminal runs deployctl args as alice in a 100×30 tmux terminal
// (recorded: every frame kept, for the frames that last milliseconds);
// the shell then prints "exit=N" and stays, so the last screen can be read.
func (p *project) inTerminal(t *testing.T, recorded bool, args ...string) *livetest.Tmux {
	t.Helper()
	argv := append([]string{"sh", "-c", `"$0" "$@"; echo "exit=$?"; sleep 60`, bin.deployctl}, args...)
	env := append(append([]string(nil), p.env...), "DEPLOYCTL_ACTOR=alice", "TERM=xterm-256color")
	if recorded {
		return livetest.StartRecorded(t, 100, 30, p.dir, env, argv...)
	}
	return livetest.Start(t, 100, 30, p.dir, env, argv...)
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
	x := p.inTerminal(t, false, releaseArgs...)

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

// The terminal sequences of the live view (internal/ui/live).
const (
	enterAlt = "\x1b[?1049h"
	leaveAlt = "\x1b[?1049l"
)

// lastLiveScreen is the last screen the live view showed before it gave
// the terminal back: what the program wrote up to leaving the alternate
// screen, played again in a terminal of the same size.
func lastLiveScreen(t *testing.T, x *livetest.Tmux, width, height int) (screen, output string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		output = x.Output()
		if strings.Contains(output, leaveAlt) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the live view never left the alternate screen; it wrote:\n%q", output)
		}
	}
	if n := strings.Count(output, enterAlt); n != 1 {
		t.Fatalf("entered the alternate screen %d times", n)
	}
	return livetest.Play(t, width, height, output[:strings.LastIndex(output, leaveAlt)]).Screen(), output
}

// checkFits fails unless the live screen has, inside width×height, what
// an operator follows a release by: the header at the top, the current
// step's row (running) and the STEP line, both bars, both slots, the four
// series of the analysis, and the engines' note as the last line; and no
// line the program wrote is wider than the terminal (tmux would wrap it).
func checkFits(t *testing.T, x *livetest.Tmux, width, height int, s, step string) {
	t.Helper()
	for _, l := range strings.Split(x.Joined(), "\n") {
		if w := ansi.StringWidth(l); w > width {
			t.Errorf("a line of %d cells on a %d-column terminal: %q", w, width, l)
		}
	}
	rows := strings.Split(s, "\n")
	if len(rows) > height {
		t.Fatalf("%d rows on a %d-row terminal", len(rows), height)
	}
	if rows[0] != releaseHeader {
		t.Errorf("the first row is %q, not the header:\n%s", rows[0], s)
	}
	if last := rows[len(rows)-1]; !strings.HasPrefix(last, "note: ") {
		t.Errorf("the last row is %q, not the engines' note: the frame was cut at the bottom:\n%s", last, s)
	}
	if !strings.Contains(rowOf(s, "▶ "+step), "running") || !strings.Contains(s, "STEP  ") || !strings.Contains(rowOf(s, "STEP  "), ": "+step) {
		t.Errorf("the current step %s (its row and the STEP line) is not on the screen:\n%s", step, s)
	}
	for _, want := range []string{"TRAFFIC", "blue ", "green ", "SLOT", "ANALYSIS", "error rate  blue", "p95         blue", "error rate  green", "p95         green"} {
		if rowOf(s, want) == "" {
			t.Errorf("the screen lacks the row %q:\n%s", want, s)
		}
	}
	if !strings.Contains(rowOf(s, "blue "), "%  active") || !strings.Contains(rowOf(s, "green "), "%") {
		t.Errorf("the bars are not on the screen:\n%s", s)
	}
	if n := strings.Count(s, "✔ ready"); n != 2 {
		t.Errorf("%d slot rows ready, want blue and green:\n%s", n, s)
	}
}

// runningTraffic is the traffic step the screen marks running, if any.
func runningTraffic(s string) string {
	m := regexp.MustCompile(`(?m)^ *▶ (traffic-\d+) +running`).FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	return m[1]
}

// A release of six traffic steps (14 steps in all) does not fit the
// terminal's rows as a plain list: the live view collapses the finished
// steps into one line and shows the steps around the current one, so that
// on 100×30 and, after a resize, on 80×24 the current step, the bars, the
// slots, the analysis and the note at the bottom all stay on the screen,
// and no line is wider than the terminal. At the end the steps are all in
// the table on the normal screen; exit 0.
func TestE2EReleaseWatchManySteps(t *testing.T) {
	p := newProject(t)
	args := []string{"release", "--steps", "5,10,25,50,75,100", "--skip-checklist", "--reason", "e2e", "--fast", "--yes"}
	x := p.inTerminal(t, false, args...)

	s := waitScreen(t, x, "traffic-10 running", func(s string) bool {
		return runningTraffic(s) == "traffic-10" && strings.Contains(s, "STEP  8 of 14: traffic-10 · analysis in ")
	})
	t.Logf("100×30:\n%s", s)
	checkFits(t, x, 100, 30, s, "traffic-10")
	if !regexp.MustCompile(`(?m)^  ✔ \d+ steps done`).MatchString(s) {
		t.Errorf("the finished steps are not collapsed into one line:\n%s", s)
	}

	x.Resize(80, 24)
	s = waitScreen(t, x, "the frame redrawn for 80 columns, a traffic step running", func(s string) bool {
		return runningTraffic(s) != "" && !strings.Contains(s, strings.Repeat("█", 51)) && len(strings.Split(s, "\n")) <= 24 &&
			strings.Contains(rowOf(s, "blue "), "%  active") && len(rowOf(s, "blue ")) <= 80*3
	})
	step := runningTraffic(s)
	t.Logf("80×24 (%s):\n%s", step, s)
	checkFits(t, x, 80, 24, s, step)

	waitScreen(t, x, "the end", func(s string) bool { return strings.Contains(s, "exit=") })
	s = x.Joined() // the normal screen wraps the table's long rows
	t.Logf("after the release:\n%s", s)
	if !strings.Contains(s, "exit=0") {
		t.Fatalf("want exit 0:\n%s", s)
	}
	if alt, cursor := x.Mode(); alt || !cursor {
		t.Fatalf("after the release: alternate screen %v, cursor shown %v:\n%s", alt, cursor, s)
	}
	for _, want := range []string{"traffic-75", "traffic-100", "health", "v1 succeeded: green serves all traffic"} {
		if !strings.Contains(s, want) {
			t.Errorf("the final table lacks %q:\n%s", want, s)
		}
	}
}

// A release killed with SIGKILL while traffic-50 waits for its analysis,
// then `release resume` on a terminal: the live view shows the steps done
// before the kill as done, with what they did then (the same backup), and
// never runs them again; traffic-50 runs again from the traffic where the
// kill left it (50/50 in the bars), and the release goes through: the
// alternate screen is left, the final table and the kill are on the
// normal screen, exit 0; one backup, one migration.
func TestE2EReleaseWatchResume(t *testing.T) {
	p := newProject(t)
	cmd := p.command(releaseArgs...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	testkit.WaitFor(t, "traffic-50 in effect, its analysis waiting", 60*time.Second, func() bool {
		select {
		case err := <-done:
			t.Fatalf("the release ended (%v) before traffic-50", err)
		default:
		}
		rec, ok := p.stored()
		if !ok || rec.Current != stepIndex("traffic-50") || rec.step(rec.Current).Status != "running" {
			return false
		}
		var st struct{ Weights map[string]int }
		r := p.run("rollout", "status", "-o", "json")
		return json.Unmarshal([]byte(r.stdout), &st) == nil && st.Weights["green"] == 50
	})
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-done
	before, _ := p.stored()
	if before.Status != "running" || before.step(before.Current).Name != "traffic-50" || before.BackupID == "" {
		t.Fatalf("after the kill the record says %s at %s, backup %q", before.Status, before.step(before.Current).Name, before.BackupID)
	}

	x := p.inTerminal(t, true, "release", "resume")
	s := waitScreen(t, x, "traffic-50 running again at 50/50", func(s string) bool {
		return strings.Contains(rowOf(s, "▶ traffic-50"), "running") && strings.Contains(rowOf(s, "green "), " 50%") &&
			strings.Contains(s, "STEP  7 of 10: traffic-50 · analysis in ")
	})
	t.Logf("the live screen of the resume:\n%s", s)
	if alt, _ := x.Mode(); !alt {
		t.Fatalf("the resume's live view is not on the alternate screen:\n%s", s)
	}
	if nb, ng := strings.Count(rowOf(s, "blue "), "█"), strings.Count(rowOf(s, "green "), "█"); nb == 0 || nb != ng {
		t.Errorf("the bars do not show 50/50 (%d and %d cells):\n%s", nb, ng, s)
	}
	for _, st := range []string{"backup", "rehearse", "migrate", "prepare"} {
		if row := rowOf(s, "✔ "+st); !strings.Contains(row, " done ") {
			t.Errorf("step %s is not shown done: %q\n%s", st, row, s)
		}
	}
	for _, st := range []string{"checklist ", "checklist-evidence"} {
		if row := rowOf(s, "– "+st); !strings.Contains(row, "skipped") {
			t.Errorf("step %s is not shown skipped: %q\n%s", st, row, s)
		}
	}
	if row := rowOf(s, "✔ backup"); !strings.Contains(row, before.BackupID) {
		t.Errorf("the backup row does not show the backup taken before the kill (%s): %q", before.BackupID, row)
	}
	if !strings.Contains(rowOf(s, "STEP  "), "resumed") {
		t.Errorf("the STEP line does not say the release was resumed:\n%s", s)
	}

	waitScreen(t, x, "the end", func(s string) bool { return strings.Contains(s, "exit=") })
	s = x.Joined() // the notes after the live view are whole lines, wrapped by the terminal
	t.Logf("the screen after the resume:\n%s", s)
	if !strings.Contains(s, "exit=0") {
		t.Fatalf("want exit 0:\n%s", s)
	}
	if alt, cursor := x.Mode(); alt || !cursor {
		t.Fatalf("after the resume: alternate screen %v, cursor shown %v:\n%s", alt, cursor, s)
	}
	for _, want := range []string{`it was killed; resuming at step "traffic-50"`, "release v1 of development: succeeded (blue → green)", "v1 succeeded: green serves all traffic"} {
		if !strings.Contains(s, want) {
			t.Errorf("the normal screen lacks %q:\n%s", want, s)
		}
	}
	if !regexp.MustCompile(`(?m)^backup +done .*` + regexp.QuoteMeta(before.BackupID)).MatchString(s) {
		t.Errorf("the final table's backup row is not the backup of before the kill:\n%s", s)
	}
	// no frame of the resume ever showed a step of before the kill running
	_, out := lastLiveScreen(t, x, 100, 30)
	for _, st := range []string{"checklist", "backup", "rehearse", "migrate", "prepare"} {
		if strings.Contains(out, "▶ "+st+" ") {
			t.Errorf("the resume showed step %s running again", st)
		}
	}
	p.servesOnly("v2")
	if got := p.applied(); len(got) != 1 {
		t.Fatalf("goose applied %v", got)
	}
	if rs := p.releases(); len(rs) != 1 || rs[0].Status != "succeeded" || rs[0].BackupID != before.BackupID {
		t.Fatalf("releases after the resume: %+v", rs)
	}
	var list struct{ Backups []json.RawMessage }
	if err := json.Unmarshal([]byte(p.must("backup", "list", "-o", "json").stdout), &list); err != nil || len(list.Backups) != 1 {
		t.Fatalf("backups after the resume: %d (%v), want the one of before the kill", len(list.Backups), err)
	}
}

// `rollback` on a terminal, after v1 (blue → green) and v2 (green →
// blue), returns to v1 live too: every step drawn as it runs, and the last
// frame says what the rollback did — green gets all the traffic (the bars,
// green active), the database was not touched; the normal screen has the
// rollback's table and the same sentence; exit 0, the users on v1's
// version and the migration still applied.
func TestE2ERollbackWatch(t *testing.T) {
	p := newProject(t)
	p.must(releaseArgs...)
	p.must(releaseArgs...)
	x := p.inTerminal(t, true, "rollback", "--yes", "--reason", "e2e")
	waitScreen(t, x, "the end", func(s string) bool { return strings.Contains(s, "exit=") })
	s := x.Joined()
	t.Logf("the screen after the rollback:\n%s", s)
	if !strings.Contains(s, "exit=0") {
		t.Fatalf("want exit 0:\n%s", s)
	}
	if alt, cursor := x.Mode(); alt || !cursor {
		t.Fatalf("after the rollback: alternate screen %v, cursor shown %v:\n%s", alt, cursor, s)
	}
	for _, want := range []string{"rollback v3 of development: succeeded (blue → green)",
		"v3 succeeded: back on v1: green serves all traffic (read back), version v2; the database was not touched"} {
		if !strings.Contains(s, want) {
			t.Errorf("the normal screen lacks %q:\n%s", want, s)
		}
	}
	live, out := lastLiveScreen(t, x, 100, 30)
	t.Logf("the rollback's last live screen:\n%s", live)
	for _, want := range []string{"▶ prepare ", "▶ traffic-100  running", "all traffic to green at once: blue 0 / green 100", "▶ promote "} {
		if !strings.Contains(out, want) {
			t.Errorf("no frame showed %q", want)
		}
	}
	if strings.Contains(out, "prometheus_url is not set") {
		t.Errorf("the rollback's live view says the analysis is not configured (it is; a rollback is just not judged)")
	}
	if !strings.Contains(out, "rollback to v1: the database is not touched") {
		t.Errorf("no frame said, while the rollback ran, that the database is not touched")
	}
	if !strings.HasPrefix(live, "deployctl · rollback v3 · development") {
		t.Errorf("the header:\n%s", live)
	}
	for _, st := range []string{"prepare", "traffic-100", "promote", "health"} {
		if !strings.Contains(rowOf(live, "✔ "+st), " done ") {
			t.Errorf("step %s is not done on the last frame:\n%s", st, live)
		}
	}
	if blue, green := rowOf(live, "blue "), rowOf(live, "green "); !strings.Contains(green, " 100%  active") || !strings.Contains(blue, "   0%") || strings.Contains(blue, "█") {
		t.Errorf("the bars of the last frame do not show all traffic on green, active:\n%s", live)
	}
	if step := rowOf(live, "STEP  "); !strings.Contains(step, "back on v1 — green serves all traffic; database not touched") {
		t.Errorf("the STEP line of the last frame does not say what the rollback did: %q", step)
	}
	p.servesOnly("v2")
	if got := p.applied(); len(got) != 1 || p.scalar("SELECT count(*) FROM orders") != 1000 {
		t.Fatalf("the rollback touched the database: %v", got)
	}
}

// A candidate failing half its requests breaches the analysis at
// traffic-50: the last live frame marks traffic-50 failed with the error
// rate observed against its threshold, the bars show all traffic back on
// blue (active), the STEP line says the release was aborted; exit 1 as
// CLI.md says for a rollout aborted by a gate. The normal screen says what
// happened (the measurement, the traffic back on blue, the migration kept)
// and the commands that can follow.
func TestE2EReleaseWatchBreach(t *testing.T) {
	p := newProject(t, "--error-rate", "0.5")
	x := p.inTerminal(t, true, releaseArgs...)
	waitScreen(t, x, "the end", func(s string) bool { return strings.Contains(s, "exit=") })
	s := x.Joined()
	t.Logf("the screen after the breach:\n%s", s)
	if !strings.Contains(s, "exit=1") {
		t.Fatalf("a breach: want exit 1:\n%s", s)
	}
	if alt, cursor := x.Mode(); alt || !cursor {
		t.Fatalf("after the breach: alternate screen %v, cursor shown %v:\n%s", alt, cursor, s)
	}
	live, _ := lastLiveScreen(t, x, 100, 30)
	t.Logf("the last live screen:\n%s", live)
	if row := rowOf(live, "✗ traffic-50"); !regexp.MustCompile(`failed .*error rate [0-9.]+% > 1%`).MatchString(row) {
		t.Errorf("traffic-50 is not marked failed with the error rate against its threshold: %q\n%s", row, live)
	}
	if blue, green := rowOf(live, "blue "), rowOf(live, "green "); !strings.Contains(blue, " 100%  active") || !strings.Contains(green, "   0%") || strings.Contains(green, "█") {
		t.Errorf("the bars of the last frame do not show all traffic back on blue:\n%s", live)
	}
	if step := rowOf(live, "STEP  "); !strings.Contains(step, "aborted") || !strings.Contains(step, "traffic-50") || !strings.Contains(step, "all traffic on blue") {
		t.Errorf("the STEP line does not say where and how the release ended: %q", step)
	}
	if !strings.Contains(rowOf(live, "· traffic-100"), "pending") {
		t.Errorf("traffic-100 is not left pending:\n%s", live)
	}
	for _, want := range []string{"release v1 of development: aborted (blue → green)",
		"v1 aborted at step traffic-50: the analysis of the green slot at 50% breached",
		`query: (sum(rate(http_requests_total{slot="green"`, "all traffic is back on blue: blue 100 / green 0 (read back)",
		"deployctl migrate down --to 0 --env development", "deployctl backup restore ", "next: `deployctl release show v1`", "then a new `deployctl release`"} {
		if !strings.Contains(s, want) {
			t.Errorf("the normal screen lacks %q:\n%s", want, s)
		}
	}
	if !regexp.MustCompile(`(?m)^  error rate  fail +observed [0-9.]+%, threshold 1%$`).MatchString(s) {
		t.Errorf("the normal screen does not give the error rate observed against its threshold:\n%s", s)
	}
	if !regexp.MustCompile(`(?m)^traffic-50 +failed`).MatchString(s) {
		t.Errorf("the final table has no failed traffic-50 row:\n%s", s)
	}
	p.servesOnly("v1")
}
