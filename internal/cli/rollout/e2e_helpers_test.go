package rollout_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/internal/testbin"
	"github.com/deployctl/deployctl/internal/testkit"
)

// bin holds the binaries built once for the package.
var bin struct{ deployctl, demoAPI string }

func TestMain(m *testing.M) {
	os.Exit(testbin.Main(func(b *testbin.Built) int {
		bin.deployctl, bin.demoAPI = b.Path("deployctl"), b.Path("demo-api")
		return m.Run()
	}, "deployctl", "demo-api"))
}

func freePort(t *testing.T) int { return testbin.FreePort(t) }

// project is an operator's folder with a development environment whose
// slots are demo-api v1 (blue) and v2 (green) behind `deployctl proxy`.
type project struct {
	t                  *testing.T
	dir                string
	proxy, blue, green string
	bluePort           int
	greenPort          int
}

func newProject(t *testing.T, extraYAML string) *project {
	t.Helper()
	p := &project{t: t, bluePort: freePort(t), greenPort: freePort(t)}
	pp := freePort(t)
	p.proxy = fmt.Sprintf("http://127.0.0.1:%d", pp)
	p.blue, p.green = fmt.Sprintf("http://127.0.0.1:%d", p.bluePort), fmt.Sprintf("http://127.0.0.1:%d", p.greenPort)
	yaml := fmt.Sprintf("traffic:\n  local: {listen: \"127.0.0.1:%d\", slots: {blue: {url: %q}, green: {url: %q}}}\nhealth: {timeout: 2s}\n%s",
		pp, p.blue, p.green, extraYAML)
	p.dir = testkit.Project(t, map[string]string{"environments/development.yaml": yaml})
	return p
}

func (p *project) startSlot(slot string, extra ...string) *testbin.Daemon {
	port, version := p.bluePort, "v1"
	if slot == "green" {
		port, version = p.greenPort, "v2"
	}
	return testbin.DemoSlot(p.t, bin.demoAPI, p.dir, slot, fmt.Sprintf("127.0.0.1:%d", port), version, extra...)
}

func (p *project) startProxy() *testbin.Daemon {
	return p.background(p.proxy+"/-/health", "proxy", "--poll", "10ms")
}

// background starts deployctl args as actor "proxy", returning once health
// answers.
func (p *project) background(health string, args ...string) *testbin.Daemon {
	cmd := exec.Command(bin.deployctl, args...)
	cmd.Dir, cmd.Env = p.dir, append(os.Environ(), "DEPLOYCTL_ACTOR=proxy")
	return testbin.StartDaemon(p.t, cmd, health)
}

type result struct {
	code           int
	stdout, stderr string
}

func (p *project) run(actor string, args ...string) result {
	p.t.Helper()
	cmd := exec.Command(bin.deployctl, args...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), "DEPLOYCTL_ACTOR="+actor, "NO_COLOR=1")
	r := testbin.Run(p.t, cmd)
	return result{r.Code, r.Stdout, r.Stderr}
}

// must runs deployctl and fails the test unless it exits 0.
func (p *project) must(args ...string) result {
	p.t.Helper()
	r := p.run("alice", args...)
	if r.code != 0 {
		p.t.Fatalf("deployctl %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

func (p *project) status() map[string]any {
	p.t.Helper()
	var m map[string]any
	r := p.must("rollout", "status", "-o", "json")
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		p.t.Fatalf("status JSON: %v\n%s", err, r.stdout)
	}
	return m
}

func (p *project) weights() string {
	w := p.status()["weights"].(map[string]any)
	return fmt.Sprintf("blue %v / green %v", w["blue"], w["green"])
}

func (p *project) stateFile(name string) string {
	return filepath.Join(p.dir, ".deployctl", "development", name)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, what, 15*time.Second, cond)
}

// version asks the proxy once and returns the version that answered.
func version(c *http.Client, url string) (string, int, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v struct{ Version string }
	json.Unmarshal(b, &v)
	return v.Version, resp.StatusCode, nil
}
