package rollout_test

import (
	"encoding/json"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/deployctl/deployctl/internal/testbin"
	"github.com/deployctl/deployctl/pkg/provider/local/statefs"
)

// TestE2ESplitAtTen: at weight 10 green answers 10% of thousands of
// requests, within five standard deviations.
func TestE2ESplitAtTen(t *testing.T) {
	p := newProject(t, "")
	p.startSlot("blue")
	p.startSlot("green")
	p.startProxy()
	p.must("rollout", "green", "--weight", "10", "--reason", "canary")
	const n = 4000
	c := &http.Client{}
	green := 0
	for range n {
		v, code, err := version(c, p.proxy+"/")
		if err != nil || code != 200 {
			t.Fatalf("request: %d %v", code, err)
		}
		if v == "v2" {
			green++
		}
	}
	sigma := math.Sqrt(n * 0.1 * 0.9)
	if d := math.Abs(float64(green) - n*0.1); d > 5*sigma {
		t.Fatalf("green answered %d of %d; want %d ± %.0f", green, n, n/10, 5*sigma)
	}
}

// TestE2ENoFailedRequestsUnderLoad runs a concurrent load through the
// proxy while weights change, green is promoted, a rollout is aborted and
// maintenance goes on and off: no request fails.
func TestE2ENoFailedRequestsUnderLoad(t *testing.T) {
	p := newProject(t, "")
	p.startSlot("blue")
	p.startSlot("green")
	p.startProxy()
	stop := make(chan struct{})
	var ok, maint, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 10 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				v, code, err := version(c, p.proxy+"/")
				switch {
				case err == nil && code == 200 && (v == "v1" || v == "v2"):
					ok.Add(1)
				case err == nil && code == 503:
					maint.Add(1)
				default:
					failed.Add(1)
					firstErr.CompareAndSwap(nil, []any{code, err})
				}
			}
		}()
	}
	steps := [][]string{
		{"rollout", "green", "--weight", "10"}, {"rollout", "green", "--weight", "50"}, {"rollout", "promote"},
		{"rollout", "blue", "--weight", "30"}, {"rollout", "abort"},
		{"maintenance", "on", "--message", "upgrade"}, {"maintenance", "off"}, {"rollout", "blue", "--weight", "100"},
	}
	for _, s := range steps {
		time.Sleep(100 * time.Millisecond)
		p.must(s...)
	}
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || ok.Load() < 100 || maint.Load() == 0 {
		t.Fatalf("ok=%d maintenance=%d failed=%d (first: %v)", ok.Load(), maint.Load(), failed.Load(), firstErr.Load())
	}
}

func TestE2EDeadSlotRefused(t *testing.T) {
	p := newProject(t, "")
	p.startSlot("blue")
	p.startProxy()
	r := p.run("alice", "rollout", "green", "--weight", "10")
	if r.code != 1 || !strings.Contains(r.stderr, "green failed its readiness check") || !strings.Contains(r.stderr, "nothing was changed") {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if w := p.weights(); w != "blue 100 / green 0" {
		t.Fatalf("weights after a refused rollout: %s", w)
	}
	if h := p.must("rollout", "history", "-o", "json"); !strings.Contains(h.stdout, `"entries": []`) {
		t.Fatalf("a refused rollout was recorded: %s", h.stdout)
	}
}

// TestE2ETwoOperators: while one rollout waits between its steps, a second
// operator gets exit 3 naming the holder; the first is then interrupted.
func TestE2ETwoOperators(t *testing.T) {
	p := newProject(t, "analysis: {prometheus_url: \"http://127.0.0.1:1\"}\n")
	p.startSlot("blue")
	p.startSlot("green")
	p.startProxy()
	first := p.background(p.proxy+"/-/health", "rollout", "green", "--steps", "10,50", "--interval", "1m", "--reason", "slow canary")
	waitFor(t, "the first rollout to hold the lock", func() bool {
		_, err := os.Stat(p.stateFile("lock.holder"))
		return err == nil
	})
	r := p.run("bob", "rollout", "abort")
	if r.code != 3 || !strings.Contains(r.stderr, "locked by proxy") || !strings.Contains(r.stderr, "slow canary") || !strings.Contains(r.stderr, "rollout green") {
		t.Fatalf("second operator: exit %d: %s", r.code, r.stderr)
	}
	_ = first.Stop()
	if code := first.Cmd.ProcessState.ExitCode(); code != 130 {
		t.Fatalf("interrupted rollout exited %d: %s", code, first.Output())
	}
	p.must("rollout", "abort") // the lock is free again
}

// Prometheus unreachable when the analysis comes: the rollout pauses where
// it is and exits 4, a dependency that could not be reached, as CLI.md
// says (it exited 1, as for a failed analysis).
func TestE2EPrometheusUnreachableExits4(t *testing.T) {
	p := newProject(t, "analysis: {prometheus_url: \"http://127.0.0.1:1\"}\n")
	p.startSlot("blue")
	p.startSlot("green")
	p.startProxy()
	r := p.run("alice", "rollout", "green", "--steps", "10,50", "--interval", "10ms")
	if r.code != 4 || !strings.Contains(r.stderr, "cannot reach the Prometheus") {
		t.Fatalf("exit %d, want 4:\n%s", r.code, r.stderr)
	}
	if w := p.weights(); w != "blue 90 / green 10" {
		t.Fatalf("weights: %s, want the first step kept (paused)", w)
	}
}

// Ctrl-C (SIGINT) while a rollout waits between its steps: it said while
// waiting which step is in effect and when the next analysis comes; it
// exits 130 saying where the traffic stays and the commands that go back
// or on (finding 9 of the operator-experience issue).
func TestE2EInterruptedBetweenSteps(t *testing.T) {
	p := newProject(t, "analysis: {prometheus_url: \"http://127.0.0.1:1\"}\n")
	p.startSlot("blue")
	p.startSlot("green")
	p.startProxy()
	r := p.background(p.proxy+"/-/health", "rollout", "green", "--steps", "10,50,100", "--interval", "1m")
	waitFor(t, "the first step's note", func() bool { return strings.Contains(r.Output(), "step 1 of 3 in effect") })
	r.Cmd.Process.Signal(syscall.SIGINT)
	<-r.Done()
	out := r.Output()
	if code := r.Cmd.ProcessState.ExitCode(); code != 130 {
		t.Fatalf("exit %d, want 130:\n%s", code, out)
	}
	for _, want := range []string{"analysis at", "interrupted after step 1 of 3", "the traffic stays at blue 90 / green 10",
		"deployctl rollout abort", "deployctl rollout green --steps 50,100"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if w := p.weights(); w != "blue 90 / green 10" {
		t.Fatalf("weights after the interruption: %s", w)
	}
}

// In a protected environment a traffic change shows its plan and needs the
// environment's name: without a terminal it refuses, naming the action and
// both flags, and changes nothing; --yes alone is refused; --yes --confirm
// ENV goes through (finding 3 of the operator-experience issue).
func TestE2EProtectedEnvironmentConfirms(t *testing.T) {
	p := newProject(t, "protected: true\n")
	p.startSlot("blue")
	p.startSlot("green")
	p.startProxy()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"rollout", "green", "--weight", "10"}, "rollout green --weight 10 in development needs a confirmation and stdin is not a terminal: pass --yes --confirm development"},
		{[]string{"rollout", "green", "--weight", "10", "--yes"}, "--yes needs --confirm development"},
		{[]string{"rollout", "green", "--weight", "10", "--yes", "--confirm", "staging"}, "--confirm staging does not match"},
		{[]string{"maintenance", "on"}, "switch maintenance on in development needs a confirmation"},
	} {
		r := p.run("alice", c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, want 2 saying %q:\n%s", c.args, r.code, c.want, r.stderr)
		}
	}
	if w := p.weights(); w != "blue 100 / green 0" {
		t.Fatalf("a refused change changed the weights: %s", w)
	}
	p.must("rollout", "green", "--weight", "10", "--yes", "--confirm", "development")
	if w := p.weights(); w != "blue 90 / green 10" {
		t.Fatalf("weights after the confirmed change: %s", w)
	}
}

// TestE2EKilledMidChangeIsRepaired kills deployctl while it waits for a
// proxy that never acknowledges: the next command takes the lock over and
// repairs the state from what the proxy serves.
func TestE2EKilledMidChangeIsRepaired(t *testing.T) {
	p := newProject(t, "")
	p.startSlot("blue")
	p.startSlot("green")
	os.MkdirAll(p.stateFile(""), 0o700)
	release, ok, err := statefs.TryLock(p.stateFile("proxy.lock"), true) // a proxy that hangs
	if err != nil || !ok {
		t.Fatalf("fake proxy lock: %v", err)
	}
	stuck := p.background(p.blue+"/health", "rollout", "green", "--weight", "10")
	waitFor(t, "the change to be under way", func() bool {
		b, _ := os.ReadFile(p.stateFile("state/rollout.json"))
		return strings.Contains(string(b), `"pending"`)
	})
	stuck.Cmd.Process.Signal(syscall.SIGKILL)
	<-stuck.Done()
	release()
	p.startProxy() // applies the stored weights: the change reached the data plane
	st := p.must("rollout", "status")
	if !strings.Contains(st.stdout, "interrupted") || !strings.Contains(st.stdout, "held by") && !strings.Contains(st.stdout, "free") {
		t.Fatalf("status after the kill:\n%s", st.stdout)
	}
	r := p.must("rollout", "green", "--weight", "20")
	if !strings.Contains(r.stderr, "took over the lock") || !strings.Contains(r.stderr, "repaired") {
		t.Fatalf("no take-over or repair note:\n%s", r.stderr)
	}
	if w := p.weights(); w != "blue 80 / green 20" {
		t.Fatalf("weights: %s", w)
	}
	h := p.must("rollout", "history")
	if !strings.Contains(h.stdout, "interrupted") {
		t.Fatalf("history lacks the interrupted change:\n%s", h.stdout)
	}
}

func TestE2EProxyRestartKeepsWeights(t *testing.T) {
	p := newProject(t, "")
	p.startSlot("blue")
	p.startSlot("green")
	proxy := p.startProxy()
	p.must("rollout", "green", "--weight", "70")
	if err := proxy.Stop(); err != nil {
		t.Fatalf("proxy stop: %v %s", err, proxy.Output())
	}
	p.startProxy()
	if w := p.weights(); w != "blue 30 / green 70" {
		t.Fatalf("after restart: %s", w)
	}
}

// With no proxy running a change is stored, and the command says that it
// is not in effect and how to start the proxy; it never claims a read-back
// (finding 1 of the operator-experience issue). status says the data plane
// is down, in text and JSON.
func TestE2ENoProxyRunning(t *testing.T) {
	p := newProject(t, "")
	p.startSlot("green")
	r := p.must("rollout", "green", "--weight", "10")
	if !strings.Contains(r.stderr, "no proxy is running") {
		t.Fatalf("no note: %s", r.stderr)
	}
	if strings.Contains(r.stdout, "read back") || !strings.Contains(r.stdout, "stored, not in effect") ||
		!strings.Contains(r.stdout, "deployctl -e development proxy") {
		t.Fatalf("rollout without a proxy says:\n%s", r.stdout)
	}
	st := p.must("rollout", "status").stdout
	if !strings.Contains(st, "data plane   down: no proxy is running") || !strings.Contains(st, "deployctl -e development proxy") {
		t.Fatalf("status without a proxy:\n%s", st)
	}
	var js struct {
		DataPlane *struct {
			Up    bool   `json:"up"`
			Start string `json:"start"`
		} `json:"data_plane"`
	}
	if err := json.Unmarshal([]byte(p.must("rollout", "status", "-o", "json").stdout), &js); err != nil || js.DataPlane == nil || js.DataPlane.Up {
		t.Fatalf("status -o json without a proxy: %+v (%v)", js.DataPlane, err)
	}
	p.startProxy()
	if st := p.must("rollout", "status").stdout; !strings.Contains(st, "data plane   proxy pid") {
		t.Fatalf("status with a proxy:\n%s", st)
	}
}

func TestE2EBadInputChangesNothing(t *testing.T) {
	p := newProject(t, "")
	p.startSlot("blue")
	p.startSlot("green")
	p.startProxy()
	p.must("rollout", "green", "--weight", "10")
	for _, args := range [][]string{{"green", "--weight", "101"}, {"green", "--weight", "-1"}, {"green", "--weight", "abc"}, {"purple", "--weight", "10"}, {"green"}, {"green", "--steps", "50,10"}} {
		r := p.run("alice", append([]string{"rollout"}, args...)...)
		if r.code != 2 || r.stderr == "" {
			t.Errorf("rollout %v: exit %d %q", args, r.code, r.stderr)
		}
	}
	path := p.stateFile("state/rollout.json")
	good, _ := os.ReadFile(path)
	os.WriteFile(path, []byte("{not json"), 0o600)
	r := p.run("alice", "rollout", "green", "--weight", "50")
	if r.code != 1 || !strings.Contains(r.stderr, "malformed") {
		t.Fatalf("malformed state: exit %d %s", r.code, r.stderr)
	}
	if b, _ := os.ReadFile(path); string(b) != "{not json" {
		t.Fatalf("malformed file was rewritten")
	}
	os.WriteFile(path, good, 0o600)
	if w := p.weights(); w != "blue 90 / green 10" {
		t.Fatalf("weights moved: %s", w)
	}
}

// TestE2ESIGTERMDrains: a slow request in flight is answered although the
// proxy is told to stop meanwhile.
func TestE2ESIGTERMDrains(t *testing.T) {
	p := newProject(t, "")
	p.startSlot("blue", "--delay", "700ms")
	proxy := p.startProxy()
	type res struct {
		v    string
		code int
		err  error
	}
	got := make(chan res, 1)
	go func() { v, c, err := version(http.DefaultClient, p.proxy+"/"); got <- res{v, c, err} }()
	time.Sleep(200 * time.Millisecond)
	if err := proxy.Stop(); err != nil {
		t.Fatalf("proxy exit: %v %s", err, proxy.Output())
	}
	r := <-got
	if r.err != nil || r.code != 200 || r.v != "v1" {
		t.Fatalf("request in flight: %+v", r)
	}
}

// deployctl status: the environment on one screen, the data plane down
// then up, each slot's readiness and version, the lock, maintenance
// (finding 6 of the operator-experience issue).
func TestE2EStatusOverview(t *testing.T) {
	p := newProject(t, "protected: true\n")
	p.startSlot("blue")
	st := p.must("status").stdout
	for _, want := range []string{"environment  development (protected)", "data plane   down: no proxy is running", "deployctl -e development proxy",
		"blue         100%, ready v1", "green        0%, not ready", "lock         free", "maintenance  ok: off"} {
		if !strings.Contains(st, want) {
			t.Errorf("status lacks %q:\n%s", want, st)
		}
	}
	p.startSlot("green")
	p.startProxy()
	p.must("rollout", "green", "--weight", "10", "--yes", "--confirm", "development")
	st = p.must("status").stdout
	for _, want := range []string{"data plane   ok: proxy pid", "traffic      blue active, candidate green; weights blue 90 / green 10", "green        10%, ready v2"} {
		if !strings.Contains(st, want) {
			t.Errorf("status lacks %q:\n%s", want, st)
		}
	}
	var rep struct {
		Traffic *struct {
			Weights   map[string]int    `json:"weights"`
			DataPlane struct{ Up bool } `json:"data_plane"`
		} `json:"traffic"`
		Maintenance *struct{ On bool } `json:"maintenance"`
	}
	if err := json.Unmarshal([]byte(p.must("status", "-o", "json").stdout), &rep); err != nil || rep.Traffic == nil ||
		rep.Traffic.Weights["green"] != 10 || !rep.Traffic.DataPlane.Up || rep.Maintenance == nil || rep.Maintenance.On {
		t.Fatalf("status -o json: %+v (%v)", rep, err)
	}
}

// Through a real terminal (a pty): in a protected environment the change
// shows its plan and asks for the environment's name; a wrong answer
// changes nothing, the name goes through; Ctrl-C during the wait between
// steps leaves the traffic and says what to run (finding 3 and 9 of the
// operator-experience issue).
func TestE2ETerminalConfirmAndCtrlC(t *testing.T) {
	p := newProject(t, "protected: true\nanalysis: {prometheus_url: \"http://127.0.0.1:1\"}\n")
	p.startSlot("blue")
	p.startSlot("green")
	p.startProxy()
	term := func(args ...string) *testbin.Terminal {
		cmd := exec.Command(bin.deployctl, args...)
		cmd.Dir, cmd.Env = p.dir, append(os.Environ(), "DEPLOYCTL_ACTOR=alice", "NO_COLOR=1")
		return testbin.StartTerminal(t, cmd)
	}
	no := term("rollout", "green", "--weight", "10")
	no.WaitFor(`Type "development" to confirm: `)
	if out := no.Output(); !strings.Contains(out, "Rollout green --weight 10 in development:") || !strings.Contains(out, "1. weights blue 100 / green 0 → blue 90 / green 10") {
		t.Fatalf("the plan was not shown before the question:\n%s", out)
	}
	no.Type("yes\n")
	if code := no.Exit(); code == 0 || !strings.Contains(no.Output(), "nothing was changed") {
		t.Fatalf("a wrong answer: exit %d\n%s", code, no.Output())
	}
	if w := p.weights(); w != "blue 100 / green 0" {
		t.Fatalf("a declined change changed the weights: %s", w)
	}
	ok := term("rollout", "green", "--weight", "10")
	ok.WaitFor(`Type "development" to confirm: `)
	ok.Type("development\n")
	if code := ok.Exit(); code != 0 {
		t.Fatalf("the typed name: exit %d\n%s", code, ok.Output())
	}
	steps := term("rollout", "green", "--steps", "20,50", "--interval", "1m")
	steps.WaitFor(`Type "development" to confirm: `)
	steps.Type("development\n")
	steps.WaitFor("step 1 of 2 in effect")
	steps.Type("\x03") // Ctrl-C, as the terminal sends it to the foreground group
	if code := steps.Exit(); code != 130 || !strings.Contains(steps.Output(), "interrupted after step 1 of 2: the traffic stays at blue 80 / green 20") {
		t.Fatalf("Ctrl-C: exit %d\n%s", code, steps.Output())
	}
	if w := p.weights(); w != "blue 80 / green 20" {
		t.Fatalf("weights after Ctrl-C: %s", w)
	}
}

// Bash completion in a real terminal: `deployctl rollout g<TAB>` completes
// green, and `deployctl rollout <TAB><TAB>` offers the subcommands and
// both slots (finding 10 of the operator-experience issue).
func TestE2EBashCompletesSlots(t *testing.T) {
	const bashCompletion = "/usr/share/bash-completion/bash_completion" // scripts/deps installs it
	if _, err := os.Stat(bashCompletion); err != nil {
		t.Fatalf("%v: install bash-completion (scripts/deps)", err)
	}
	p := newProject(t, "")
	binDir := filepath.Dir(bin.deployctl)
	cmd := exec.Command("bash", "--norc", "--noprofile", "-i")
	cmd.Dir, cmd.Env = p.dir, []string{"PATH=" + binDir + ":/usr/bin:/bin", "HOME=" + t.TempDir(), "TERM=dumb", "PS1=$ "}
	sh := testbin.StartTerminal(t, cmd)
	sh.Type("source " + bashCompletion + "; source <(deployctl completion bash); echo READY\n")
	sh.WaitFor("READY\r\n")
	sh.Type("deployctl rollout g\t")
	sh.WaitFor("deployctl rollout green ")
	sh.Type("\x15deployctl rollout \t\t") // Ctrl-U clears the line
	sh.WaitFor("promote")
	for _, want := range []string{"blue", "green", "status", "abort"} {
		if !strings.Contains(sh.Output(), want) {
			t.Errorf("completion of rollout lacks %q:\n%s", want, sh.Output())
		}
	}
	sh.Type("\x15exit\n")
}
