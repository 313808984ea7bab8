package maintenance_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/mail/smtptest"
)

const (
	hookSecret = "whsec-CANARY-e2e-0c1d"
	hookToken  = "hooktoken-CANARY-e2e-9f3a"
)

// hook is a webhook receiver that checks each request's signature.
type hook struct {
	*httptest.Server
	mu     sync.Mutex
	events []map[string]any
	bad    []string
}

func newHook(t *testing.T, status int) *hook {
	h := &hook{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		m := hmac.New(sha256.New, []byte(hookSecret))
		m.Write(body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if r.Header.Get("X-Deployctl-Signature") != "sha256="+hex.EncodeToString(m.Sum(nil)) || r.URL.Path != "/in/"+hookToken {
			h.bad = append(h.bad, r.URL.Path+" "+r.Header.Get("X-Deployctl-Signature"))
		}
		var ev map[string]any
		_ = json.Unmarshal(body, &ev)
		h.events = append(h.events, ev)
		w.WriteHeader(status)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hook) kinds() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var s []string
	for _, e := range h.events {
		s = append(s, fmt.Sprint(e["kind"]))
	}
	return strings.Join(s, ",")
}

// notifyProject is a project whose notify: section sends every maintenance
// event to ok (signed, the URL and secret from .env) and to a target that
// always fails.
func notifyProject(t *testing.T, smtpPort int, ok, failing *hook) *project {
	dotenv := fmt.Sprintf("EMAIL_HOST=127.0.0.1\nEMAIL_PORT=%d\nEMAIL_USER=mailer\nEMAIL_PASSWORD=%s\nOPS_HOOK=%s/in/%s\nOPS_SECRET=%s\nBROKEN_HOOK=%s/in/%s\n",
		smtpPort, canary, ok.URL, hookToken, hookSecret, failing.URL, hookToken)
	p := newProject(t, projectOpts{notify: true, dotenv: dotenv})
	file := filepath.Join(p.dir, "environments", "development.yaml")
	doc, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	doc = append(doc, `notify:
  timeout: 2s
  targets:
    - {name: ops, type: webhook, url_from: OPS_HOOK, secret_from: OPS_SECRET, events: [maintenance.on, maintenance.off]}
    - {name: broken, type: webhook, url_from: BROKEN_HOOK, secret_from: OPS_SECRET}
`...)
	p.write("environments/development.yaml", string(doc))
	return p
}

// tickUntil runs maintenance tick until its output says want.
func (p *project) tickUntil(want string) result {
	p.t.Helper()
	var r result
	waitFor(p.t, 30*time.Second, "tick to say "+want, func() bool {
		r = p.must("maintenance", "tick")
		if strings.Contains(r.stderr, "was missed") {
			p.t.Fatalf("the window was missed: %s", r.stderr)
		}
		if !strings.Contains(r.stderr, want) && (r.stdout != "" || r.stderr != "") {
			p.t.Fatalf("tick said something else: stdout %q stderr %q", r.stdout, r.stderr)
		}
		return strings.Contains(r.stderr, want)
	})
	return r
}

func TestE2ETickStartsAndEndsAWindowThroughTheProxy(t *testing.T) {
	srv := smtptest.Start(t, "mailer", canary)
	ok, failing := newHook(t, 200), newHook(t, 500)
	p := notifyProject(t, srv.Port, ok, failing)
	p.env = append(p.env, "SSL_CERT_FILE="+srv.CAFile)
	p.startSlots()
	p.startProxy()
	c := clientFrom("127.0.0.1")
	if r := p.must("maintenance", "tick"); r.stdout != "" || r.stderr != "" {
		t.Fatalf("nothing scheduled, yet tick said: %q %q", r.stdout, r.stderr)
	}
	sched := p.must("maintenance", "schedule", "--start", "2s", "--duration", "12s", "--message", "Database upgrade", "-o", "json")
	var s struct {
		Window struct{ ID string } `json:"window"`
	}
	if err := json.Unmarshal([]byte(sched.stdout), &s); err != nil {
		t.Fatal(err)
	}
	on := p.tickUntil("switched maintenance on for window " + s.Window.ID)
	if resp := fetch(t, c, p.proxy+"/"); resp.code != 503 || !strings.Contains(resp.body, "Database upgrade") {
		t.Fatalf("during the window the proxy answered %d: %s", resp.code, resp.body)
	}
	if !strings.Contains(on.stderr, "notification maintenance.on to broken was not delivered") || !strings.Contains(on.stderr, "HTTP 500") {
		t.Errorf("the failing target is not reported: %s", on.stderr)
	}
	if r := p.must("maintenance", "tick"); r.stderr != "" {
		t.Fatalf("a second tick during the window: %q", r.stderr)
	}
	off := p.tickUntil("switched maintenance off: window " + s.Window.ID + " ended")
	if resp := fetch(t, c, p.proxy+"/"); resp.code != 200 {
		t.Fatalf("after the window the proxy answered %d", resp.code)
	}
	if ok.kinds() != "maintenance.on,maintenance.off" || len(ok.bad) != 0 {
		t.Errorf("webhook events %s, bad requests %v", ok.kinds(), ok.bad)
	}
	if failing.kinds() != "maintenance.on,maintenance.on,maintenance.off,maintenance.off" {
		t.Errorf("the failing target was not retried once per event: %s", failing.kinds())
	}
	var subjects []string
	for _, m := range srv.Messages() {
		subject, _ := decoded(t, m.Data)
		subjects = append(subjects, subject)
	}
	if len(subjects) != 3 || !strings.HasPrefix(subjects[1], "Maintenance of development has started") || subjects[2] != "Maintenance of development has ended" {
		t.Errorf("mails: %q", subjects)
	}
	history := readFile(t, filepath.Join(p.dir, ".deployctl"), "history.jsonl")
	if strings.Count(history, `"command":"maintenance tick"`) != 2 || !strings.Contains(history, `"target":"broken","kind":"maintenance.off","ok":false,"status":500`) {
		t.Errorf("history:\n%s", history)
	}
	for _, secret := range []string{hookSecret, hookToken, canary} {
		assertNoSecret(t, p.dir, secret, on.stdout, on.stderr, off.stdout, off.stderr, sched.stderr)
	}
}

func TestE2ETickDryRunAndMissedWindow(t *testing.T) {
	p := newProject(t, projectOpts{})
	p.must("maintenance", "schedule", "--start", "1s", "--duration", "1s")
	waitFor(t, 20*time.Second, "the window to end", func() bool {
		return strings.Contains(p.must("maintenance", "list").stdout, "ended")
	})
	dry := p.must("maintenance", "tick", "--dry-run", "-o", "json")
	if !strings.Contains(dry.stdout, `"action": "missed"`) || !strings.Contains(dry.stdout, `"dry_run": true`) {
		t.Fatalf("dry run: %s", dry.stdout)
	}
	r := p.must("maintenance", "tick")
	if !strings.Contains(r.stderr, "was missed") || !strings.Contains(r.stderr, "not switched on") || p.status()["on"] != false {
		t.Fatalf("missed window: %q", r.stderr)
	}
	if r := p.must("maintenance", "tick"); r.stderr != "" {
		t.Fatalf("reported twice: %q", r.stderr)
	}
}

func TestE2ETwoTicksAtOnceSwitchOnce(t *testing.T) {
	p := newProject(t, projectOpts{})
	p.must("maintenance", "schedule", "--start", "1s", "--duration", "1h")
	waitFor(t, 20*time.Second, "the window to start", func() bool {
		return strings.Contains(p.must("maintenance", "list").stdout, "due")
	})
	results := make([]result, 3)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() { defer wg.Done(); results[i] = p.run("maintenance", "tick") }()
	}
	wg.Wait()
	on := 0
	for _, r := range results {
		if r.code != 0 && r.code != 3 {
			t.Errorf("exit %d: %s", r.code, r.stderr)
		}
		on += strings.Count(r.stderr, "switched maintenance on")
	}
	history := readFile(t, filepath.Join(p.dir, ".deployctl"), "history.jsonl")
	if on != 1 || strings.Count(history, `"command":"maintenance tick"`) != 1 || p.status()["on"] != true {
		t.Fatalf("%d ticks switched on; history:\n%s", on, history)
	}
}

func TestE2ERunValidateThroughTheProxy(t *testing.T) {
	p := newProject(t, projectOpts{})
	p.startSlots()
	p.startProxy()
	c := clientFrom("127.0.0.1")
	r := p.run("maintenance", "run", "--message", "migrating", "--validate", "echo 'smoke: 1 failed' >&2; exit 4", "--", "touch", "migrated")
	if r.code != 1 || !strings.Contains(r.stderr, "maintenance stays on: the validation tests (echo 'smoke: 1 failed' >&2; exit 4) failed: the command exited with status 4") || !strings.Contains(r.stderr, "smoke: 1 failed") {
		t.Fatalf("failing validation: exit %d %q", r.code, r.stderr)
	}
	if resp := fetch(t, c, p.proxy+"/"); resp.code != 503 || p.status()["on"] != true {
		t.Fatalf("after failed validation the proxy answered %d", resp.code)
	}
	p.must("maintenance", "off")
	ok := p.must("maintenance", "run", "--validate", "test -e migrated", "-o", "json", "--", "true")
	if !strings.Contains(ok.stderr, "the validation tests passed, the slots are ready, maintenance is off and the final health check passed") {
		t.Fatalf("passing validation: %q", ok.stderr)
	}
	var res struct {
		ValidateExit *int             `json:"validate_exit_code"`
		Confirm      []map[string]any `json:"confirm"`
		StaysOn      bool             `json:"stays_on"`
	}
	if err := json.Unmarshal([]byte(ok.stdout), &res); err != nil || res.ValidateExit == nil || *res.ValidateExit != 0 || len(res.Confirm) != 1 || res.StaysOn {
		t.Fatalf("JSON %v: %s", err, ok.stdout)
	}
	if resp := fetch(t, c, p.proxy+"/"); resp.code != 200 {
		t.Fatalf("after the run the proxy answered %d", resp.code)
	}
	history := readFile(t, filepath.Join(p.dir, ".deployctl"), "history.jsonl")
	if !strings.Contains(history, `"validate_exit_code":4`) || !strings.Contains(history, `"validate_exit_code":0`) || !strings.Contains(history, `"failed":"validate"`) {
		t.Fatalf("history:\n%s", history)
	}
}
