package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/local/statefs"
)

// counting counts the requests a slot gets and the connections open to it.
type counting struct {
	hits atomic.Int64
	open atomic.Int64
}

// countGreen replaces e's green slot, before the proxy starts, by one that
// answers as green does and counts its requests and open connections.
func (e *env) countGreen(t *testing.T) *counting {
	t.Helper()
	c := &counting{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.hits.Add(1)
		if r.URL.Path == "/health/readiness" {
			io.WriteString(w, `{"status":"ready","version":"green"}`)
			return
		}
		io.WriteString(w, "green")
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			c.open.Add(1)
		case http.StateClosed, http.StateHijacked:
			c.open.Add(-1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	e.green = &upstream{Server: srv}
	e.router.Slots[provider.Green] = srv.URL
	return c
}

func (e *env) ack(t *testing.T) *Ack {
	t.Helper()
	a, err := ReadAck(Paths{Root: e.root}.Ack())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (e *env) statePath() string { return filepath.Join(e.root, "state", "proxy.json") }

// SetSlotURL points green, which serves all traffic, from A at B, on each
// of the proxy's paths: the ack says B, every request after it reaches B
// and none A, the connections pooled to A are let go, the probes follow
// B; pointed back at its setting, green is served from A again.
func TestSetSlotURLOnEveryPath(t *testing.T) {
	eachPath(t, func(t *testing.T, setup func(*Server)) {
		e := newEnv(t)
		a := e.countGreen(t)
		b := newUpstream(t, "green-b")
		// pooled connections outlive the test but for the change of URL
		p := e.start(t, func(s *Server) { s.SlotIdleTimeout = time.Hour; setup(s) })
		if err := e.router.SetWeights(t.Context(), wts(0, 100)); err != nil {
			t.Fatal(err)
		}
		c := &http.Client{} // kept-alive: its connection to the proxy, and the proxy's to A, are reused
		for range 20 {
			if _, body := get(t, c, p.url+"/"); body != "green" {
				t.Fatalf("before SetSlotURL green answered %q", body)
			}
		}

		if err := e.router.SetSlotURL(t.Context(), provider.Green, b.URL); err != nil {
			t.Fatal(err)
		}
		ack := e.ack(t)
		if got := ack.Slots[provider.Green]; got.URL != b.URL || !got.Override {
			t.Fatalf("the ack serves green from %+v, want %s (override)", got, b.URL)
		}
		if got := ack.Slots[provider.Blue]; got.URL != e.blue.URL || got.Override {
			t.Fatalf("the ack serves blue from %+v, want its setting %s", got, e.blue.URL)
		}
		before := a.hits.Load()
		for i := range 200 {
			if _, body := get(t, c, p.url+"/"); body != "green-b" {
				t.Fatalf("request %d after SetSlotURL reached %q, want green-b", i, body)
			}
		}
		if n := a.hits.Load() - before; n != 0 {
			t.Fatalf("A got %d requests after the ack named B", n)
		}
		waitFor(t, "the connections to A closed", func() bool { return a.open.Load() == 0 })

		st, err := e.router.Slot(t.Context(), provider.Green)
		if err != nil || !st.Ready || st.Version != "green-b" || !strings.Contains(st.Detail, b.URL) {
			t.Fatalf("the green slot's probe: %+v %v; want B's readiness", st, err)
		}
		if dp := e.router.DataPlane(t.Context()); !strings.Contains(dp.Detail, "green from "+b.URL) {
			t.Fatalf("the data plane does not say green is served from B: %s", dp.Detail)
		}
		var h struct{ Slots map[provider.Slot]string }
		if _, body := get(t, c, p.url+"/-/health"); json.Unmarshal([]byte(body), &h) != nil || h.Slots[provider.Green] != b.URL {
			t.Fatalf("/-/health: %s", body)
		}

		// the setting's URL removes the override
		if err := e.router.SetSlotURL(t.Context(), provider.Green, e.green.URL); err != nil {
			t.Fatal(err)
		}
		if got := e.ack(t).Slots[provider.Green]; got.URL != e.green.URL || got.Override {
			t.Fatalf("after pointing green back, the ack says %+v", got)
		}
		if d, _, _ := e.router.Desired(t.Context()); len(d.Slots) != 0 {
			t.Fatalf("the override is still stored: %+v", d.Slots)
		}
		for range 20 {
			if _, body := get(t, c, p.url+"/"); body != "green" {
				t.Fatalf("after pointing green back a request reached %q", body)
			}
		}
	})
}

// A slot pointed at a URL the fast path does not take (a path prefix) is
// served through net/http on every path, the prefix kept.
func TestSlotURLWithPathPrefixOnEveryPath(t *testing.T) {
	eachPath(t, func(t *testing.T, setup func(*Server)) {
		e := newEnv(t)
		b := newUpstream(t, "green-b")
		b.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "b:"+r.URL.Path) })
		p := e.start(t, setup)
		if err := e.router.SetWeights(t.Context(), wts(0, 100)); err != nil {
			t.Fatal(err)
		}
		if err := e.router.SetSlotURL(t.Context(), provider.Green, b.URL+"/v2"); err != nil {
			t.Fatal(err)
		}
		for range 20 {
			if _, body := get(t, http.DefaultClient, p.url+"/orders"); body != "b:/v2/orders" {
				t.Fatalf("a request reached %q, want b:/v2/orders", body)
			}
		}
	})
}

// Requests that run while green is re-pointed all get an answer, and
// none that starts after the ack naming B, and ends before the next
// change, reaches A.
func TestSetSlotURLUnderLoad(t *testing.T) {
	e := newEnv(t)
	b := newUpstream(t, "green-b")
	p := e.start(t)
	if err := e.router.SetWeights(t.Context(), wts(50, 50)); err != nil {
		t.Fatal(err)
	}
	// phase is odd while green is being re-pointed, even once the ack came;
	// onB says where green is served from in an even phase
	var phase atomic.Int64
	var onB atomic.Bool
	var failed, late, served atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{}
			for {
				select {
				case <-stop:
					return
				default:
				}
				before := phase.Load()
				b := onB.Load()
				resp, err := c.Get(p.url + "/")
				if err != nil {
					failed.Add(1)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				served.Add(1)
				switch {
				case resp.StatusCode != 200:
					failed.Add(1)
				case before%2 == 0 && phase.Load() == before && b && string(body) == "green":
					late.Add(1)
				}
			}
		}()
	}
	for i := range 11 {
		target := b.URL
		if i%2 == 1 {
			target = e.green.URL
		}
		phase.Add(1)
		if err := e.router.SetSlotURL(t.Context(), provider.Green, target); err != nil {
			t.Fatal(err)
		}
		onB.Store(target == b.URL)
		phase.Add(1)
		waitFor(t, "requests served", func() bool { return served.Load() > int64(20*(i+1)) })
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || late.Load() != 0 {
		t.Fatalf("%d requests failed, %d reached A after the ack named B", failed.Load(), late.Load())
	}
}

// A URL that is not an absolute http(s) URL without credentials is
// refused before anything is written, and a password never shows.
func TestSetSlotURLRefusesMalformed(t *testing.T) {
	e := newEnv(t)
	e.start(t)
	if err := e.router.SetWeights(t.Context(), wts(0, 100)); err != nil {
		t.Fatal(err)
	}
	state, _ := os.ReadFile(e.statePath())
	rev := e.ack(t).Revision
	for _, bad := range []string{
		"not a url", "127.0.0.1:3002", "/v2", "ftp://127.0.0.1:21", "http://", "http:opaque",
		"http://127.0.0.1:99999", "http://127.0.0.1:99999x", "http://[::1", "http://127.0.0.1:3002/#top",
		"http://deploy:hunter2@127.0.0.1:3002", "http://deploy:hunter2@[::1", "http://:hunter2@127.0.0.1:3002",
	} {
		err := e.router.SetSlotURL(t.Context(), provider.Green, bad)
		var ce *provider.ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("SetSlotURL(%q) = %v, want a *provider.ConfigError", bad, err)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("SetSlotURL(%q): the error shows the password: %v", bad, err)
		}
	}
	if err := e.router.SetSlotURL(t.Context(), "red", e.green.URL); err == nil {
		t.Error("an unknown slot was accepted")
	}
	if now, _ := os.ReadFile(e.statePath()); string(now) != string(state) {
		t.Fatalf("a refused URL was written:\n%s", now)
	}
	if got := e.ack(t).Revision; got != rev {
		t.Fatalf("the proxy applied revision %d after refused URLs, want %d", got, rev)
	}
}

// A state document edited by hand with a bad slot URL is not applied: the
// proxy logs why (without the password) and serves the last good state;
// commands refuse to change the document until it is fixed.
func TestHandEditedBadSlotURLKeepsLastGood(t *testing.T) {
	e := newEnv(t)
	b := newUpstream(t, "green-b")
	var log syncBuffer
	p := e.start(t, func(s *Server) { s.Log = slog.New(slog.NewTextHandler(&log, nil)) })
	if err := e.router.SetWeights(t.Context(), wts(0, 100)); err != nil {
		t.Fatal(err)
	}
	if err := e.router.SetSlotURL(t.Context(), provider.Green, b.URL); err != nil {
		t.Fatal(err)
	}
	rev := e.ack(t).Revision
	for i, bad := range []string{`"ftp://127.0.0.1:21"`, `"http://deploy:hunter2@127.0.0.1:1"`, `""`} {
		doc := fmt.Sprintf(`{"format":1,"revision":%d,"weights":{"blue":0,"green":100},"slots":{"green":{"url":%s}}}`, rev+int64(i)+1, bad)
		if err := os.WriteFile(e.statePath(), []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the error logged for "+bad, func() bool {
			return strings.Count(log.String(), "state not applied") == i+1
		})
		for range 10 {
			if _, body := get(t, http.DefaultClient, p.url+"/"); body != "green-b" {
				t.Fatalf("after the state file got slot URL %s the proxy served %q, want green-b (last good)", bad, body)
			}
		}
		if got := e.ack(t); got.Revision != rev || got.Slots[provider.Green].URL != b.URL {
			t.Fatalf("a bad slot URL was acknowledged: %+v", got)
		}
	}
	if !strings.Contains(log.String(), "slots.green.url") || strings.Contains(log.String(), "hunter2") {
		t.Fatalf("the log does not name slots.green.url, or shows the password:\n%s", log.String())
	}
	err := e.router.SetWeights(t.Context(), wts(100, 0))
	if err == nil || !strings.Contains(err.Error(), "malformed") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("SetWeights over a bad slot URL: %v", err)
	}
}

// Without a running proxy the URL is stored with a note, as weights are;
// the probes already follow it, and a proxy started later serves it.
func TestSetSlotURLWithoutProxy(t *testing.T) {
	e := newEnv(t)
	a := e.countGreen(t)
	b := newUpstream(t, "green-b")
	if err := e.router.SetSlotURL(t.Context(), provider.Green, b.URL); err != nil {
		t.Fatal(err)
	}
	if len(e.notes) != 1 || !strings.Contains(e.notes[0], "no proxy is running") {
		t.Fatalf("notes = %q", e.notes)
	}
	if st, err := e.router.Slot(t.Context(), provider.Green); err != nil || st.Version != "green-b" {
		t.Fatalf("the probe without a proxy: %+v %v; want B", st, err)
	}
	if err := e.router.SetWeights(t.Context(), wts(0, 100)); err != nil {
		t.Fatal(err)
	}
	p := e.start(t)
	if got := e.ack(t).Slots[provider.Green]; got.URL != b.URL || !got.Override {
		t.Fatalf("a proxy started later serves green from %+v", got)
	}
	for range 20 {
		if _, body := get(t, http.DefaultClient, p.url+"/"); body != "green-b" {
			t.Fatalf("a request reached %q, want green-b", body)
		}
	}
	if n := a.hits.Load(); n != 0 {
		t.Fatalf("A got %d requests", n)
	}
}

// A proxy that acknowledges the revision without saying where it serves
// the slot (an older build) did not apply it: SetSlotURL says so.
func TestSetSlotURLNotAppliedByOlderProxy(t *testing.T) {
	e := newEnv(t)
	paths := Paths{Root: e.root}
	if err := os.MkdirAll(e.root, 0o700); err != nil {
		t.Fatal(err)
	}
	release, free, err := statefs.TryLock(paths.Lock(), true) // "a proxy is running"
	if err != nil || !free {
		t.Fatalf("lock: %v %v", free, err)
	}
	defer release()
	// the "proxy" acknowledges each revision without the slots
	done, exited := make(chan struct{}), make(chan struct{})
	defer func() { close(done); <-exited }() // before the folder is removed
	go func() {
		defer close(exited)
		for {
			select {
			case <-done:
				return
			default:
			}
			if data, err := os.ReadFile(e.statePath()); err == nil {
				if d, err := ParseDoc(data); err == nil {
					ack, _ := json.Marshal(Ack{Format: 1, PID: 4242, Revision: d.Revision, Weights: d.Weights})
					statefs.WriteFileAtomic(paths.Ack(), ack)
				}
			}
			runtime.Gosched()
		}
	}()
	err = e.router.SetSlotURL(t.Context(), provider.Green, "http://127.0.0.1:4000")
	if err == nil || !strings.Contains(err.Error(), "older than slot URLs") || !strings.Contains(err.Error(), "pid 4242") {
		t.Fatalf("SetSlotURL with an older proxy: %v", err)
	}
}

func TestParseSlotURL(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:3002", "https://api-green.internal", "http://[::1]:3002/", "http://h:1/v2?x=1"} {
		if _, err := ParseSlotURL(ok); err != nil {
			t.Errorf("ParseSlotURL(%q): %v", ok, err)
		}
	}
	for a, b := range map[string]string{"http://h:1": "http://h:1/", "HTTP://h:1": "http://h:1"} {
		if !provider.SameSlotURL(a, b) {
			t.Errorf("SameSlotURL(%q, %q) = false", a, b)
		}
	}
	if provider.SameSlotURL("http://h:1", "http://h:2") || provider.SameSlotURL("http://h:1/v1", "http://h:1/v2") {
		t.Error("different URLs are the same")
	}
}
