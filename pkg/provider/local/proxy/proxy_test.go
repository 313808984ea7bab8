package proxy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/maintenance/page"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/providertest"
)

func TestTrafficRouterSuite(t *testing.T) {
	providertest.TestTrafficRouter(t, func(t *testing.T) providertest.TrafficFixture {
		e := newEnv(t)
		e.start(t)
		return providertest.TrafficFixture{Router: e.router, SetReady: func(s provider.Slot, ok bool) {
			map[provider.Slot]*upstream{provider.Blue: e.blue, provider.Green: e.green}[s].ready.Store(ok)
		}}
	})
}

func TestMaintenanceSwitchSuite(t *testing.T) {
	providertest.TestMaintenanceSwitch(t, func(t *testing.T) provider.MaintenanceSwitch {
		e := newEnv(t)
		e.start(t)
		return e.router
	})
}

// TestSplitAtTenPercent sends thousands of requests at blue 90 / green 10
// and checks green's share is within five standard deviations of 10%.
func TestSplitAtTenPercent(t *testing.T) {
	e := newEnv(t)
	p := e.start(t)
	if err := e.router.SetWeights(t.Context(), wts(90, 10)); err != nil {
		t.Fatal(err)
	}
	const n = 5000
	c := &http.Client{}
	green := 0
	for range n {
		if _, body := get(t, c, p.url+"/"); body == "green" {
			green++
		}
	}
	sigma := math.Sqrt(n * 0.1 * 0.9)
	if d := math.Abs(float64(green) - n*0.1); d > 5*sigma {
		t.Fatalf("green answered %d of %d requests; want %d ± %.0f", green, n, n/10, 5*sigma)
	}
}

func TestChangeAcknowledgedBeforeReturn(t *testing.T) {
	e := newEnv(t)
	p := e.start(t)
	for _, w := range []provider.Weights{wts(0, 100), wts(100, 0), wts(0, 100)} {
		if err := e.router.SetWeights(t.Context(), w); err != nil {
			t.Fatal(err)
		}
		want := "blue"
		if w[provider.Green] == 100 {
			want = "green"
		}
		for range 20 { // the very next requests already see the change
			if _, body := get(t, http.DefaultClient, p.url+"/"); body != want {
				t.Fatalf("after SetWeights(%v) returned, a request went to %s", w, body)
			}
		}
	}
}

// TestNoFailedRequestsDuringChanges runs a concurrent load while weights and
// maintenance change: every request gets a slot's answer or the
// maintenance page, never an error.
func TestNoFailedRequestsDuringChanges(t *testing.T) {
	e := newEnv(t)
	pg, err := page.New("", []string{"/health"})
	if err != nil {
		t.Fatal(err)
	}
	p := e.start(t, func(s *Server) { s.Maintenance = pg.Wrap })
	stop := make(chan struct{})
	var ok, maint, failed atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
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
				classify(c, p.url+"/", &ok, &maint, &failed)
			}
		}()
	}
	for i := range 30 {
		if err := e.router.SetWeights(t.Context(), wts(100-i*3, i*3)); err != nil {
			t.Fatal(err)
		}
		if i%10 == 5 {
			e.router.SetMaintenance(t.Context(), provider.MaintenanceState{On: true, Message: "m"})
			time.Sleep(5 * time.Millisecond)
			e.router.SetMaintenance(t.Context(), provider.MaintenanceState{})
		}
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || ok.Load() == 0 || maint.Load() == 0 {
		t.Fatalf("ok=%d maintenance=%d failed=%d; want no failures", ok.Load(), maint.Load(), failed.Load())
	}
}

func classify(c *http.Client, url string, ok, maint, failed *atomic.Int64) {
	resp, err := c.Get(url)
	if err != nil {
		failed.Add(1)
		return
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	switch {
	case resp.StatusCode == 200 && (string(b) == "blue" || string(b) == "green"):
		ok.Add(1)
	case resp.StatusCode == 503 && resp.Header.Get("Retry-After") != "":
		maint.Add(1)
	default:
		failed.Add(1)
	}
}

func TestRestartKeepsWeights(t *testing.T) {
	e := newEnv(t)
	p := e.start(t)
	if err := e.router.SetWeights(t.Context(), wts(30, 70)); err != nil {
		t.Fatal(err)
	}
	p.stop(t)
	if ok, _ := e.router.Running(); ok {
		t.Fatal("proxy still counted as running after it stopped")
	}
	p = e.start(t)
	if w, _ := e.router.Weights(t.Context()); w[provider.Blue] != 30 || w[provider.Green] != 70 {
		t.Fatalf("restarted proxy serves %v, want blue 30 / green 70", w)
	}
	var h struct{ Weights provider.Weights }
	_, body := get(t, http.DefaultClient, p.url+"/-/health")
	if json.Unmarshal([]byte(body), &h); h.Weights[provider.Green] != 70 {
		t.Fatalf("/-/health = %s", body)
	}
}

func TestWithoutProxyChangeIsStoredWithNote(t *testing.T) {
	e := newEnv(t)
	if err := e.router.SetWeights(t.Context(), wts(80, 20)); err != nil {
		t.Fatal(err)
	}
	if len(e.notes) != 1 || !strings.Contains(e.notes[0], "no proxy is running") {
		t.Fatalf("notes = %q", e.notes)
	}
	e.start(t)
	if w, _ := e.router.Weights(t.Context()); w[provider.Green] != 20 {
		t.Fatalf("proxy started later serves %v", w)
	}
}

func TestSecondProxyRefused(t *testing.T) {
	e := newEnv(t)
	e.start(t)
	s := &Server{Paths: Paths{Root: e.root}}
	err := s.Run(t.Context(), nil)
	if err == nil || !strings.Contains(err.Error(), "another proxy") {
		t.Fatalf("second proxy: %v", err)
	}
}

// TestMalformedStateKeepsLastGood: a broken state file changes nothing: the
// proxy keeps serving and a command reports how to fix it.
func TestMalformedStateKeepsLastGood(t *testing.T) {
	e := newEnv(t)
	p := e.start(t)
	if err := e.router.SetWeights(t.Context(), wts(0, 100)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(e.root, "state", "proxy.json")
	os.WriteFile(path, []byte(`{"weights": {"blue": 50`), 0o600)
	err := e.router.SetWeights(t.Context(), wts(100, 0))
	if err == nil || !strings.Contains(err.Error(), "malformed") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("SetWeights over a malformed file: %v", err)
	}
	time.Sleep(50 * time.Millisecond) // several polls of the proxy
	if _, body := get(t, http.DefaultClient, p.url+"/"); body != "green" {
		t.Fatalf("after the state file broke the proxy served %q, want green (last good)", body)
	}
	if b, _ := os.ReadFile(path); string(b) != `{"weights": {"blue": 50` {
		t.Fatalf("malformed file was rewritten: %s", b)
	}
}

func TestNewerFormatFieldsKept(t *testing.T) {
	e := newEnv(t)
	path := filepath.Join(e.root, "state", "proxy.json")
	os.MkdirAll(filepath.Dir(path), 0o700)
	os.WriteFile(path, []byte(`{"format":2,"revision":4,"weights":{"blue":100,"green":0},"mirror":{"to":"canary"}}`), 0o600)
	if err := e.router.SetWeights(t.Context(), wts(50, 50)); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	var m map[string]any
	json.Unmarshal(b, &m)
	if m["mirror"] == nil || m["format"] != 2.0 || m["revision"] != 5.0 {
		t.Fatalf("rewritten document lost a newer field or format: %s", b)
	}
}

func TestHeadersRequestIDAndAccessLog(t *testing.T) {
	e := newEnv(t)
	var log syncBuffer
	p := e.start(t, func(s *Server) { s.AccessLog = &log })
	req, _ := http.NewRequest("GET", p.url+"/x?y=1", nil)
	req.Host = "api.example.com"
	req.Header.Set("X-Request-Id", "abc123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := resp.Header
	if h.Get("X-Seen-Host") != "api.example.com" || h.Get("X-Seen-Forwarded-For") != "127.0.0.1" || h.Get("X-Seen-Request-Id") != "abc123" || h.Get("X-Request-Id") != "abc123" {
		t.Fatalf("headers: %v", h)
	}
	waitFor(t, "access log line", func() bool { return strings.HasSuffix(log.String(), "\n") })
	var entry accessEntry
	if err := json.Unmarshal([]byte(log.String()), &entry); err != nil || entry.ID != "abc123" || entry.Status != 200 || entry.Slot != "blue" || entry.Path != "/x" {
		t.Fatalf("access log line %s: %v", log.String(), err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestStickyCookie(t *testing.T) {
	e := newEnv(t)
	p := e.start(t, func(s *Server) { s.Sticky = true })
	e.router.SetWeights(t.Context(), wts(50, 50))
	req, _ := http.NewRequest("GET", p.url+"/", nil)
	req.AddCookie(&http.Cookie{Name: StickyCookie, Value: "green"})
	for range 50 {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "green" {
			t.Fatalf("sticky client went to %s", b)
		}
	}
	resp, _ := http.Get(p.url + "/")
	resp.Body.Close()
	if c := resp.Cookies(); len(c) != 1 || c[0].Name != StickyCookie {
		t.Fatalf("new client got cookies %v", c)
	}
}

func TestStreamingAndDrainOnStop(t *testing.T) {
	e := newEnv(t)
	release := make(chan struct{})
	e.blue.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "first\n")
		w.(http.Flusher).Flush()
		<-release
		fmt.Fprint(w, "second\n")
	})
	p := e.start(t)
	resp, err := http.Get(p.url + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	if line, _ := br.ReadString('\n'); line != "first\n" {
		t.Fatalf("first chunk not streamed: %q", line)
	}
	go func() { time.Sleep(100 * time.Millisecond); close(release) }()
	stopped := make(chan struct{})
	go func() { p.stop(t); close(stopped) }() // SIGTERM path: drains the stream in flight
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "second\n" {
		t.Fatalf("request in flight cut by the stop: %q %v", rest, err)
	}
	<-stopped
}
