package proxy

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
)

// BenchmarkRequest is one GET through a running proxy to a minimal slot, on
// kept-alive connections, with the event loops and without them (the
// goroutine fast path). It is the in-process counterpart of
// scripts/bench/proxy: compare two revisions with benchstat, e.g.
//
//	go test -run '^$' -bench Request -count 10 ./pkg/provider/local/proxy/ > new.txt
//
// It uses only what the package has had since the proxy's first fast path,
// so the same file runs on older revisions (see docs/benchmarks.md).
func BenchmarkRequest(b *testing.B) {
	for _, c := range []struct {
		name  string
		loops int
	}{{"loops", 0}, {"goroutines", -1}} {
		b.Run(c.name, func(b *testing.B) {
			url := benchProxy(b, c.loops)
			b.RunParallel(func(pb *testing.PB) {
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
				for pb.Next() {
					resp, err := client.Get(url)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
		})
	}
}

// benchProxy starts a proxy in front of two minimal slots (all traffic on
// blue) until the benchmark ends, and returns its URL.
func benchProxy(b *testing.B, loops int) string {
	b.Helper()
	body := []byte("ok")
	minimal := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health/readiness" {
			_, _ = io.WriteString(w, `{"status":"ready","version":"v1"}`)
			return
		}
		_, _ = w.Write(body)
	})
	blue, green := httptest.NewServer(minimal), httptest.NewServer(minimal)
	b.Cleanup(blue.Close)
	b.Cleanup(green.Close)
	root := b.TempDir()
	router := NewRouter(root, map[provider.Slot]string{provider.Blue: blue.URL, provider.Green: green.URL})
	router.Notef = func(string, ...any) {}
	s := &Server{
		Paths: Paths{Root: root}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Poll: 10 * time.Millisecond, Drain: 5 * time.Second,
		Slots:      map[provider.Slot]*url.URL{provider.Blue: mustURL(blue.URL), provider.Green: mustURL(green.URL)},
		EventLoops: loops,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, ln) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Errorf("proxy: %v", err)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for ok, ack := router.Running(); !ok || ack == nil; ok, ack = router.Running() {
		if time.Now().After(deadline) {
			b.Fatal("the proxy did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return "http://" + ln.Addr().String() + "/"
}
