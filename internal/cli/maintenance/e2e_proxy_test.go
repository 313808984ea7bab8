package maintenance_test

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// startProxy runs `deployctl proxy` for the project until the test ends.
func (p *project) startProxy() {
	p.t.Helper()
	startDaemon(p.t, p.dir, []string{"DEPLOYCTL_ACTOR=proxy"}, p.proxy+"/-/health", bin.deployctl, "proxy")
}

// clientFrom sends requests from a given loopback address (127.0.0.2 is as
// good a source as 127.0.0.1 on Linux), to exercise the allow-list.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 10 * time.Second}
}

type reply struct {
	code   int
	header http.Header
	body   string
}

func fetch(t *testing.T, c *http.Client, url string, hdr ...string) reply {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return reply{resp.StatusCode, resp.Header, readAll(resp.Body)}
}

func TestE2EProxyServesThePage(t *testing.T) {
	p := newProject(t, projectOpts{})
	p.startSlots()
	p.startProxy()
	local, other := clientFrom("127.0.0.1"), clientFrom("127.0.0.2")
	if r := fetch(t, local, p.proxy+"/"); r.code != 200 || !strings.Contains(r.body, `"version":"v1"`) {
		t.Fatalf("before: %d %s", r.code, r.body)
	}
	p.must("maintenance", "on", "--message", `<script>alert(1)</script> Upgrading`, "--until", "10m", "--allow", "127.0.0.2/32")
	// the command returned, so the proxy serves the page now: no waiting
	r := fetch(t, local, p.proxy+"/orders")
	retry, _ := strconv.Atoi(r.header.Get("Retry-After"))
	if r.code != 503 || retry < 590 || retry > 600 || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("page: %d Retry-After %q %v", r.code, r.header.Get("Retry-After"), r.header)
	}
	if strings.Contains(r.body, "<script>alert") || !strings.Contains(r.body, "&lt;script&gt;alert(1)&lt;/script&gt; Upgrading") {
		t.Fatalf("message not escaped:\n%s", r.body)
	}
	r = fetch(t, local, p.proxy+"/orders", "Accept", "application/json")
	var body map[string]any
	if err := json.Unmarshal([]byte(r.body), &body); err != nil || r.code != 503 || body["error"] != "maintenance" || body["until"] == nil {
		t.Fatalf("JSON: %d %s (%v)", r.code, r.body, err)
	}
	for _, path := range []string{"/health", "/health/readiness"} {
		if r := fetch(t, local, p.proxy+path); r.code != 200 || !strings.Contains(r.body, `"slot":"blue"`) {
			t.Fatalf("%s during maintenance: %d %s", path, r.code, r.body)
		}
	}
	if r := fetch(t, other, p.proxy+"/"); r.code != 200 || !strings.Contains(r.body, `"version":"v1"`) {
		t.Fatalf("allow-listed client: %d %s", r.code, r.body)
	}
	p.must("maintenance", "on", "--until", "4s")
	if r := fetch(t, other, p.proxy+"/"); r.code != 503 {
		t.Fatalf("--until without --allow must fall back to maintenance.allow (empty): %d", r.code)
	}
	waitFor(t, 20*time.Second, "the window to expire at the proxy", func() bool { return fetch(t, local, p.proxy+"/").code == 200 })
	if s := p.status(); s["expired"] != true {
		t.Fatalf("status after expiry: %v", s)
	}
	p.must("maintenance", "off")
	if r := fetch(t, local, p.proxy+"/"); r.code != 200 {
		t.Fatalf("after off: %d", r.code)
	}
}

// TestE2EToggleDropsNothingAllowed switches maintenance on and off while
// allow-listed clients and health probes keep calling: none of them may
// see a failure, and other clients must see only 200 or the 503 page.
func TestE2EToggleDropsNothingAllowed(t *testing.T) {
	p := newProject(t, projectOpts{allow: []string{"127.0.0.2/32"}})
	p.startSlots()
	p.startProxy()
	var stop atomic.Bool
	var sent, failed, pages atomic.Int64
	var mu sync.Mutex
	var firstFailure string
	fail := func(what string) {
		failed.Add(1)
		mu.Lock()
		if firstFailure == "" {
			firstFailure = what
		}
		mu.Unlock()
	}
	var wg sync.WaitGroup
	load := func(c *http.Client, path string, pageOK bool) {
		defer wg.Done()
		for !stop.Load() {
			sent.Add(1)
			resp, err := c.Get(p.proxy + path)
			if err != nil {
				fail(err.Error())
				continue
			}
			readAll(resp.Body)
			resp.Body.Close()
			switch {
			case resp.StatusCode == 200:
			case resp.StatusCode == 503 && pageOK && resp.Header.Get("Retry-After") != "":
				pages.Add(1)
			default:
				fail(path + ": " + resp.Status)
			}
		}
	}
	wg.Add(4)
	go load(clientFrom("127.0.0.2"), "/", false)
	go load(clientFrom("127.0.0.2"), "/", false)
	go load(clientFrom("127.0.0.1"), "/health/readiness", false)
	go load(clientFrom("127.0.0.1"), "/", true)
	flow := func() { // let some traffic through in each state
		n := sent.Load() + 40
		waitFor(t, 10*time.Second, "traffic", func() bool { return sent.Load() >= n })
	}
	for range 3 {
		p.must("maintenance", "on", "--message", "toggling")
		flow()
		p.must("maintenance", "off")
		flow()
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d requests, %d maintenance pages to the other client, %d failures", sent.Load(), pages.Load(), failed.Load())
	if failed.Load() != 0 {
		t.Fatalf("%d failed requests; first: %s", failed.Load(), firstFailure)
	}
	if pages.Load() == 0 || sent.Load() < 100 {
		t.Fatalf("the load did not overlap the window: %d requests, %d pages", sent.Load(), pages.Load())
	}
}

// TestE2ERunThroughProxy: visitors get the page while COMMAND runs, and the
// application again once it succeeded and the slot is ready.
func TestE2ERunThroughProxy(t *testing.T) {
	p := newProject(t, projectOpts{})
	p.startSlots()
	p.startProxy()
	c := clientFrom("127.0.0.1")
	seen := make(chan bool, 1)
	go func() {
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			resp, err := c.Get(p.proxy + "/")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 503 {
					seen <- true
					return
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
		seen <- false
	}()
	// COMMAND waits until the test has seen the page, so the check cannot race
	marker := p.dir + "/seen"
	go func() {
		if <-seen {
			os.WriteFile(marker, nil, 0o600)
		}
	}()
	r := p.must("maintenance", "run", "--message", "migrating", "--", "sh", "-c", "for i in $(seq 200); do [ -e '"+marker+"' ] && exit 0; sleep 0.1; done; exit 9")
	if !strings.Contains(r.stderr, "maintenance is off") {
		t.Fatalf("run: %q", r.stderr)
	}
	if resp := fetch(t, c, p.proxy+"/"); resp.code != 200 {
		t.Fatalf("after run: %d", resp.code)
	}
}
