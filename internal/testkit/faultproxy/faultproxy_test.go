package faultproxy_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deployctl/deployctl/internal/testkit"
	"github.com/deployctl/deployctl/internal/testkit/faultproxy"
)

// upstream records what reaches it and echoes it back.
type upstream struct {
	mu   sync.Mutex
	seen []string // "METHOD path host len(body)"
	srv  *httptest.Server
}

func startUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.seen = append(u.seen, fmt.Sprintf("%s %s %s %d", r.Method, r.URL.RequestURI(), r.Host, len(body)))
		u.mu.Unlock()
		if r.URL.Path == "/stream" {
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte("first\n"))
			http.NewResponseController(w).Flush()
			<-r.Context().Done()
			return
		}
		w.Header().Set("X-Echo-Header", r.Header.Get("X-Amz-Thing"))
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(body)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) requests() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.seen...)
}

// client has no retries of its own beyond net/http's, no keep-alive (so
// that net/http never replays a request on a fresh connection) and a
// deadline long enough never to fire unless a request is held.
func client(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
}

func put(t *testing.T, c *http.Client, url string, body []byte) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Thing", "signed")
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	return resp, got, err
}

func TestPassForwardsEverythingUnchanged(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", useTLS), func(t *testing.T) {
			u := startUpstream(t)
			p := faultproxy.Start(t, u.srv.URL, nil, useTLS)
			if useTLS != strings.HasPrefix(p.URL(), "https://") || useTLS != (p.CertPool() != nil) {
				t.Fatalf("URL %s, CertPool %v for tls=%v", p.URL(), p.CertPool(), useTLS)
			}
			body := bytes.Repeat([]byte("0123456789"), 100_000) // 1 MB
			resp, got, err := put(t, client(time.Minute), p.URL()+"/bucket/key%2Fx?partNumber=1", body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusCreated || !bytes.Equal(got, body) || resp.Header.Get("X-Echo-Header") != "signed" {
				t.Fatalf("status %d, body %d bytes (want %d), echo %q", resp.StatusCode, len(got), len(body), resp.Header.Get("X-Echo-Header"))
			}
			host := strings.TrimPrefix(strings.TrimPrefix(p.URL(), "http://"), "https://")
			want := fmt.Sprintf("PUT /bucket/key%%2Fx?partNumber=1 %s %d", host, len(body))
			if r := u.requests(); len(r) != 1 || r[0] != want {
				t.Fatalf("upstream saw %q, want %q (the client's Host and path)", r, want)
			}
		})
	}
}

func TestCertPoolTrustsTheProxy(t *testing.T) {
	u := startUpstream(t)
	p := faultproxy.Start(t, u.srv.URL, nil, true)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.CertPool()}}}
	if _, _, err := put(t, c, p.URL()+"/x", []byte("x")); err != nil {
		t.Fatalf("a client trusting CertPool: %v", err)
	}
}

func TestDropReplyActsButAnswersNothing(t *testing.T) {
	u := startUpstream(t)
	p := faultproxy.Start(t, u.srv.URL, nil, false)
	r := p.On(faultproxy.All(faultproxy.Method("PUT"), faultproxy.PathContains("/lock")), faultproxy.DropReply, 1)
	c := client(time.Minute)
	if resp, _, err := put(t, c, p.URL()+"/b/lock.json", []byte("abc")); err == nil {
		t.Fatalf("a dropped reply reached the client: %d", resp.StatusCode)
	}
	if got := u.requests(); len(got) != 1 || !strings.HasPrefix(got[0], "PUT /b/lock.json ") {
		t.Fatalf("upstream saw %q; the request must reach it", got)
	}
	// n=1: the next one passes, and Seen counts both.
	if resp, _, err := put(t, c, p.URL()+"/b/lock.json", []byte("abc")); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("second request: %v", err)
	}
	if r.Seen() != 2 {
		t.Fatalf("Seen = %d, want 2", r.Seen())
	}
}

func TestResetReachesNothing(t *testing.T) {
	u := startUpstream(t)
	p := faultproxy.Start(t, u.srv.URL, nil, false)
	p.On(faultproxy.Method("PUT"), faultproxy.Reset, 0)
	c := client(time.Minute)
	for range 3 {
		if _, _, err := put(t, c, p.URL()+"/x", []byte("abc")); err == nil {
			t.Fatal("a reset connection answered")
		}
	}
	if got := u.requests(); len(got) != 0 {
		t.Fatalf("upstream saw %q after resets", got)
	}
}

func TestBlackHoleHoldsUntilTheClientGivesUp(t *testing.T) {
	u := startUpstream(t)
	p := faultproxy.Start(t, u.srv.URL, nil, false)
	r := p.On(faultproxy.PathContains("/hole"), faultproxy.BlackHole, 0)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL()+"/hole", nil)
	_, err := client(0).Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("black-holed request: %v, want the client's own deadline", err)
	}
	if got := u.requests(); len(got) != 0 || r.Seen() != 1 {
		t.Fatalf("upstream saw %q, Seen %d", got, r.Seen())
	}
	// Other requests still pass.
	if _, _, err := put(t, client(time.Minute), p.URL()+"/other", nil); err != nil {
		t.Fatal(err)
	}
}

// A request still held when the test ends must not hang the cleanup, and
// the client then sees its connection end.
func TestBlackHoleLetsGoAtTheEnd(t *testing.T) {
	u := startUpstream(t)
	errc := make(chan error, 1)
	t.Run("inner", func(t *testing.T) {
		p := faultproxy.Start(t, u.srv.URL, nil, false)
		r := p.On(faultproxy.Method("GET"), faultproxy.BlackHole, 0)
		go func() {
			_, err := client(0).Get(p.URL() + "/x")
			errc <- err
		}()
		testkit.WaitFor(t, "the request to reach the proxy", 10*time.Second, func() bool { return r.Seen() == 1 })
	})
	if err := <-errc; err == nil {
		t.Fatal("a black-holed request got an answer")
	}
}

func TestDelayThenPass(t *testing.T) {
	u := startUpstream(t)
	p := faultproxy.Start(t, u.srv.URL, nil, false)
	p.Delay(faultproxy.PathContains("/slow"), time.Hour, 0)
	p.Delay(faultproxy.PathContains("/quick"), time.Millisecond, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL()+"/slow", nil)
	if _, err := client(0).Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("request delayed by an hour: %v", err)
	}
	if resp, _, err := put(t, client(time.Minute), p.URL()+"/quick", []byte("q")); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("short delay: %v", err)
	}
	if got := u.requests(); len(got) != 1 || !strings.HasPrefix(got[0], "PUT /quick ") {
		t.Fatalf("upstream saw %q; the held request must not reach it", got)
	}
}

func TestRulesInOrderRemoveAndClear(t *testing.T) {
	u := startUpstream(t)
	p := faultproxy.Start(t, u.srv.URL, nil, false)
	first := p.On(faultproxy.PathContains("/a"), faultproxy.Reset, 0)
	second := p.On(faultproxy.Method("PUT"), faultproxy.Reset, 0)
	c := client(time.Minute)
	if _, _, err := put(t, c, p.URL()+"/a", nil); err == nil {
		t.Fatal("first rule did not apply")
	}
	if first.Seen() != 1 || second.Seen() != 0 {
		t.Fatalf("Seen: first %d, second %d; the first matching rule applies alone", first.Seen(), second.Seen())
	}
	first.Remove()
	if _, _, err := put(t, c, p.URL()+"/a", nil); err == nil || second.Seen() != 1 {
		t.Fatalf("after Remove the second rule applies: %v, Seen %d", err, second.Seen())
	}
	p.Clear()
	if _, _, err := put(t, c, p.URL()+"/a", nil); err != nil {
		t.Fatalf("after Clear: %v", err)
	}
	if got := u.requests(); len(got) != 1 {
		t.Fatalf("upstream saw %q", got)
	}
}

func TestStreamedAnswersFlow(t *testing.T) {
	u := startUpstream(t)
	p := faultproxy.Start(t, u.srv.URL, nil, false)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL()+"/stream", nil)
	resp, err := client(0).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 6)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "first\n" {
		t.Fatalf("streamed answer: %q, %v; the proxy must flush as the upstream writes", buf, err)
	}
}

func TestUpstreamDownIsBadGateway(t *testing.T) {
	u := startUpstream(t)
	url := u.srv.URL
	u.srv.Close()
	p := faultproxy.Start(t, url, nil, false)
	resp, _, err := put(t, client(time.Minute), p.URL()+"/x", nil)
	if err != nil || resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("upstream down: %v", err)
	}
}
