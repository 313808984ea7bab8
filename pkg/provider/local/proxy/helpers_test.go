package proxy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deployctl/deployctl/internal/testkit"
	"github.com/deployctl/deployctl/pkg/provider"
)

// upstream is one slot: it answers its name on / and its readiness as set.
type upstream struct {
	*httptest.Server
	ready atomic.Bool
}

func newUpstream(t *testing.T, name string) *upstream {
	t.Helper()
	u := &upstream{}
	u.ready.Store(true)
	mux := http.NewServeMux()
	mux.HandleFunc("/health/readiness", func(w http.ResponseWriter, r *http.Request) {
		if !u.ready.Load() {
			http.Error(w, `{"status":"unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, `{"status":"ready","version":%q}`, name)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-Host", r.Host)
		w.Header().Set("X-Seen-Forwarded-For", r.Header.Get("X-Forwarded-For"))
		w.Header().Set("X-Seen-Request-Id", r.Header.Get("X-Request-Id"))
		fmt.Fprint(w, name)
	})
	u.Server = httptest.NewServer(mux)
	t.Cleanup(u.Close)
	return u
}

type env struct {
	root   string
	blue   *upstream
	green  *upstream
	router *Router
	notes  []string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{root: t.TempDir(), blue: newUpstream(t, "blue"), green: newUpstream(t, "green")}
	e.router = NewRouter(e.root, map[provider.Slot]string{provider.Blue: e.blue.URL, provider.Green: e.green.URL})
	e.router.Notef = func(f string, a ...any) { e.notes = append(e.notes, fmt.Sprintf(f, a...)) }
	return e
}

type running struct {
	url    string
	cancel context.CancelFunc
	done   chan error
}

// start runs a proxy for e until the test ends (or stop is called).
func (e *env) start(t *testing.T, configure ...func(*Server)) *running {
	t.Helper()
	s := &Server{
		Paths: Paths{Root: e.root}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Poll: 10 * time.Millisecond, Drain: 5 * time.Second,
		Slots:      map[provider.Slot]*url.URL{provider.Blue: mustURL(e.blue.URL), provider.Green: mustURL(e.green.URL)},
		EventLoops: testEventLoops(t),
	}
	for _, c := range configure {
		c(s)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{url: "http://" + ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx, ln) }()
	t.Cleanup(func() { r.stop(t) })
	waitFor(t, "proxy started", func() bool { ok, ack := e.router.Running(); return ok && ack != nil })
	return r
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	if err := <-r.done; err != nil {
		t.Errorf("proxy: %v", err)
	}
}

func mustURL(s string) *url.URL { u, _ := url.Parse(s); return u }

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, what, 10*time.Second, cond)
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func wts(blue, green int) provider.Weights {
	return provider.Weights{provider.Blue: blue, provider.Green: green}
}
