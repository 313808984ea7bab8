package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deployctl/deployctl/internal/testbin"
	"github.com/deployctl/deployctl/internal/testkit"
	"github.com/deployctl/deployctl/pkg/analysis/prometheus/promtest"
)

var deployctl, demoAPI string

func TestMain(m *testing.M) {
	os.Exit(testbin.Main(func(b *testbin.Built) int {
		deployctl, demoAPI = b.Path("deployctl"), b.Path("demo-api")
		return m.Run()
	}, "deployctl", "demo-api"))
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// daemon starts a long-running process in dir, waits until url answers, and
// stops it (SIGTERM) when the test ends.
func daemon(t *testing.T, dir, url string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, append(os.Environ(), "DEPLOYCTL_ACTOR=proxy")
	testbin.StartDaemon(t, cmd, url)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, what, 30*time.Second, cond)
}

// load sends requests through the proxy until stopped (at most 20000, one
// every 5 ms) and counts the versions that answered.
type load struct {
	mu     sync.Mutex
	counts map[string]int
	stop   chan struct{}
	done   chan struct{}
}

func startLoad(url string) *load {
	l := &load{counts: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	client := &http.Client{Timeout: 5 * time.Second}
	go func() {
		defer close(l.done)
		for i := 0; i < 20000; i++ {
			select {
			case <-l.stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			v := answer(client, url)
			l.mu.Lock()
			l.counts[v]++
			l.mu.Unlock()
		}
	}()
	return l
}

func (l *load) finish() map[string]int {
	close(l.stop)
	<-l.done
	return l.counts
}

func answer(c *http.Client, url string) string {
	resp, err := c.Get(url)
	if err != nil {
		return "error"
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var v struct{ Version string }
	_ = json.Unmarshal(body, &v)
	return v.Version
}

func run(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(deployctl, args...)
	var out, errOut bytes.Buffer
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, &out, &errOut
	cmd.Env = append(os.Environ(), "DEPLOYCTL_ACTOR=alice", "NO_COLOR=1")
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errOut.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), 0
}

// setup starts blue (v1) and green (v2, failing half its requests), a
// Prometheus (scraping both when scrape is set), and `deployctl proxy`, and
// returns the project folder and the proxy's address.
func setup(t *testing.T, scrape bool) (string, string) {
	t.Helper()
	promtest.Require(t)
	dir := t.TempDir()
	blue, green, proxy := freeAddr(t), freeAddr(t), freeAddr(t)
	testbin.DemoSlot(t, demoAPI, dir, "blue", blue, "v1")
	testbin.DemoSlot(t, demoAPI, dir, "green", green, "v2", "--error-rate", "0.5")
	var o promtest.Options
	if scrape {
		o.Scrape = []string{blue, green}
	}
	prom := promtest.Start(t, o)
	if scrape {
		prom.WaitScraped(t)
	}
	env := fmt.Sprintf(`traffic:
  local: {listen: %q, slots: {blue: {url: "http://%s"}, green: {url: "http://%s"}}}
analysis: {prometheus_url: %q, error_rate_max: 0.01, p95_max: 500ms}
`, proxy, blue, green, prom.URL)
	if err := os.MkdirAll(filepath.Join(dir, "environments"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "environments", "development.yaml"), []byte(env), 0o644); err != nil {
		t.Fatal(err)
	}
	daemon(t, dir, "http://"+proxy+"/-/health", deployctl, "proxy")
	return dir, proxy
}

// A green release that fails half its requests: during `rollout green
// --steps 10,50,100` the analysis after the first step reads the error rate
// that the real requests through the proxy produced, aborts, and the proxy
// sends every request back to blue.
func TestStepsBreachReturnsTrafficToActive(t *testing.T) {
	dir, proxy := setup(t, true)

	traffic := startLoad("http://" + proxy + "/")
	out, errOut, code := run(t, dir, "rollout", "green", "--steps", "10,50,100", "--interval", "8s", "--reason", "release v2")
	during := traffic.finish()
	if code != 1 {
		t.Fatalf("exit %d, want 1 (aborted by analysis)\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"step 1 (green at 10%): analysis FAIL",
		`query: (sum(rate(http_requests_total{slot="green",code=~"5.."}[5m])) or vector(0)) / sum(rate(http_requests_total{slot="green"}[5m]))`,
		"error_rate fail  observed ",
		"threshold 1.00%",
		"rollout aborted, all traffic back to the active slot",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if during["v2"] == 0 || during["v1"] == 0 {
		t.Errorf("during the step both slots should have answered: %v", during)
	}

	// After the abort, real requests through the proxy all reach blue.
	client := &http.Client{Timeout: 5 * time.Second}
	for i := 0; i < 50; i++ {
		if v := answer(client, "http://"+proxy+"/"); v != "v1" {
			t.Fatalf("request %d after the abort answered by %q, want v1 (blue)", i, v)
		}
	}
	status, _, _ := run(t, dir, "rollout", "status", "-o", "json")
	var st struct {
		Active  string         `json:"active"`
		Weights map[string]int `json:"weights"`
	}
	if err := json.Unmarshal([]byte(status), &st); err != nil || st.Active != "blue" || st.Weights["blue"] != 100 || st.Weights["green"] != 0 {
		t.Errorf("status %s (err %v), want blue active at 100", status, err)
	}
	hist, _, _ := run(t, dir, "history", "--command", "rollout", "-o", "json")
	if !strings.Contains(hist, "abort by analysis") {
		t.Errorf("history lacks the abort:\n%s", hist)
	}
}

// No data (Prometheus scrapes nothing) is inconclusive: the rollout pauses
// at its first step with exit 1 and says why; it never passes.
func TestStepsNoDataPauses(t *testing.T) {
	dir, _ := setup(t, false)
	out, errOut, code := run(t, dir, "rollout", "green", "--steps", "10,100", "--interval", "1s")
	if code != 1 || !strings.Contains(errOut, "analysis INCONCLUSIVE") || !strings.Contains(errOut, "no data: the query returned no series") ||
		!strings.Contains(errOut, "rollout paused there, never counted as a pass") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	status, _, _ := run(t, dir, "rollout", "status", "-o", "json")
	if !strings.Contains(strings.ReplaceAll(status, " ", ""), `"green":10`) {
		t.Errorf("status %s, want green held at 10%%", status)
	}
}
