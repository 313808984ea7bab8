package maintenance_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/internal/testbin"
	"github.com/deployctl/deployctl/internal/testkit"
	"github.com/deployctl/deployctl/pkg/maintenance/page"
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

// project is an operator's project folder with a development environment.
type project struct {
	t           *testing.T
	dir         string
	proxy       string // http://127.0.0.1:PORT
	blue, green string
	env         []string // extra process environment for deployctl
}

type projectOpts struct {
	allow  []string
	notify bool
	dotenv string
}

func newProject(t *testing.T, o projectOpts) *project {
	t.Helper()
	p := &project{t: t, dir: t.TempDir()}
	pp, bp, gp := freePort(t), freePort(t), freePort(t)
	p.proxy, p.blue, p.green = fmt.Sprintf("http://127.0.0.1:%d", pp), fmt.Sprintf("http://127.0.0.1:%d", bp), fmt.Sprintf("http://127.0.0.1:%d", gp)
	allow, _ := json.Marshal(o.allow)
	if o.allow == nil {
		allow = []byte("[]")
	}
	notify := "{to: [], from: \"\"}"
	if o.notify {
		notify = "{to: [ops@example.com, team@example.com], from: deployctl@example.com}"
	}
	yaml := fmt.Sprintf(`variables: {sources: [{type: dotenv, path: .env}]}
state: {dir: .deployctl}
traffic:
  provider: local
  local: {listen: "127.0.0.1:%d", slots: {blue: {url: "%s"}, green: {url: "%s"}}}
health: {path: /health, readiness_path: /health/readiness, timeout: 2s}
maintenance: {page: templates/maintenance.html, allow: %s, notify: %s}
`, pp, p.blue, p.green, allow, notify)
	p.write("environments/development.yaml", yaml)
	p.write("templates/maintenance.html", page.DefaultTemplate)
	p.write(".env", o.dotenv)
	return p
}

func (p *project) write(rel, content string) {
	p.t.Helper()
	testkit.WriteFiles(p.t, p.dir, map[string]string{rel: content})
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs deployctl in the project like an operator, without a terminal.
func (p *project) run(args ...string) result {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin.deployctl, args...)
	cmd.Dir, cmd.Env = p.dir, testbin.OperatorEnv(p.dir, p.env...)
	r := testbin.Run(p.t, cmd)
	return result{r.Code, r.Stdout, r.Stderr}
}

// must runs deployctl and requires exit 0.
func (p *project) must(args ...string) result {
	p.t.Helper()
	r := p.run(args...)
	if r.code != 0 {
		p.t.Fatalf("deployctl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// status is `maintenance status -o json`.
func (p *project) status() map[string]any {
	p.t.Helper()
	r := p.must("maintenance", "status", "-o", "json")
	var s map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		p.t.Fatalf("status JSON: %v\n%s", err, r.stdout)
	}
	return s
}

// startDaemon starts a long-running process and waits until url answers.
func startDaemon(t *testing.T, dir string, env []string, url string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, env...)
	testbin.StartDaemon(t, cmd, url)
}

// startSlots starts demo-api v1 as blue and v2 as green.
func (p *project) startSlots(blueArgs ...string) {
	p.t.Helper()
	testbin.DemoSlot(p.t, bin.demoAPI, p.dir, "blue", strings.TrimPrefix(p.blue, "http://"), "v1", blueArgs...)
	testbin.DemoSlot(p.t, bin.demoAPI, p.dir, "green", strings.TrimPrefix(p.green, "http://"), "v2")
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, what, limit, cond)
}

// assertNoSecret fails when secret appears in any file under dir.
func assertNoSecret(t *testing.T, dir, secret string, outputs ...string) {
	t.Helper()
	for _, o := range outputs {
		if strings.Contains(o, secret) {
			t.Errorf("secret in output: %s", o)
		}
	}
	_ = filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || filepath.Base(path) == ".env" {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return nil
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if strings.Contains(sc.Text(), secret) {
				t.Errorf("secret in %s", path)
				break
			}
		}
		return nil
	})
}

func readAll(r io.Reader) string { b, _ := io.ReadAll(r); return string(b) }

// decoded returns a received mail's subject and body as people read them.
func decoded(t *testing.T, raw string) (subject, body string) {
	t.Helper()
	m, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatalf("malformed mail: %v\n%s", err, raw)
	}
	subject, err = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	var r io.Reader = m.Body
	if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		r = quotedprintable.NewReader(r)
	}
	return subject, readAll(r)
}
