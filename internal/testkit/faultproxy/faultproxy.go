// Package faultproxy is an HTTP/1.1 reverse proxy on loopback for tests: it
// stands in front of a real server (versitygw, the kube-apiserver) and
// loses replies, resets connections, black-holes or delays the requests a
// test picks, so that clients are tested against the network faults they
// meet in production.
//
//	p := faultproxy.Start(t, upstreamURL, nil, false)
//	r := p.On(faultproxy.All(faultproxy.Method("PUT"), faultproxy.PathContains("/lock.json")), faultproxy.DropReply, 1)
//	client := newClient(p.URL()) // the client talks to the proxy
//	…
//	if r.Seen() != 2 { … } // the lost reply and the client's retry
//
// Requests are forwarded with their method, path, query, headers (but the
// hop-by-hop ones), body and Host header unchanged: a client whose endpoint
// is the proxy's URL signs its requests (AWS SigV4) for the proxy's
// address, and that Host reaches the upstream as signed.
package faultproxy

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Fault is what happens to a request that a rule matches.
type Fault int

const (
	// Pass forwards the request and relays the answer.
	Pass Fault = iota
	// DropReply forwards the request, lets the upstream act on it, reads
	// its answer, then closes the client's connection without writing a
	// byte of the answer (a lost reply).
	DropReply
	// Reset closes the client's connection before forwarding (nothing
	// reaches the upstream).
	Reset
	// BlackHole never forwards and never answers: it holds the client's
	// connection open until the client gives up or the test ends.
	BlackHole
)

func (f Fault) String() string {
	switch f {
	case Pass:
		return "Pass"
	case DropReply:
		return "DropReply"
	case Reset:
		return "Reset"
	case BlackHole:
		return "BlackHole"
	}
	return "Fault(?)"
}

// Proxy is a running fault-injecting proxy.
type Proxy struct {
	srv      *httptest.Server
	upstream *url.URL
	rt       http.RoundTripper
	closed   chan struct{}

	mu    sync.Mutex
	rules []*Rule
}

// Rule is one fault (or delay) applied to the requests it matches.
type Rule struct {
	p     *Proxy
	match func(*http.Request) bool
	fault Fault
	delay time.Duration
	left  int // applications left; <0: unlimited
	seen  int
}

// Start serves a proxy on 127.0.0.1 in front of upstream (base URL) using rt
// (nil: a clone of http.DefaultTransport, without transparent compression)
// for the upstream side; tls=true serves https with httptest's certificate
// (clients then use Insecure or p.CertPool()). Stopped by t.Cleanup.
func Start(t testing.TB, upstream string, rt http.RoundTripper, tls bool) *Proxy {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		t.Fatalf("faultproxy: upstream %q is not an http(s) base URL", upstream)
	}
	if rt == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.DisableCompression = true // relay the upstream's bytes as they are
		rt = tr
		t.Cleanup(tr.CloseIdleConnections)
	}
	p := &Proxy{upstream: u, rt: rt, closed: make(chan struct{})}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(p.serve))
	if tls {
		p.srv.StartTLS() // HTTP/1.1 only: connections can be hijacked
	} else {
		p.srv.Start()
	}
	t.Cleanup(func() {
		close(p.closed) // black holes and delays let go first …
		p.srv.CloseClientConnections()
		p.srv.Close() // … so that Close does not wait for them
	})
	return p
}

// URL is the base URL clients use.
func (p *Proxy) URL() string { return p.srv.URL }

// CertPool holds the proxy's certificate (tls=true; nil otherwise).
func (p *Proxy) CertPool() *x509.CertPool {
	if p.srv.Certificate() == nil {
		return nil
	}
	pool := x509.NewCertPool()
	pool.AddCert(p.srv.Certificate())
	return pool
}

// On adds a rule: requests for which match returns true get fault, for the
// next n matching requests (n<=0: every one). Rules are tried in the order
// added; the first that matches (and has applications left) applies.
func (p *Proxy) On(match func(*http.Request) bool, f Fault, n int) *Rule {
	return p.add(&Rule{match: match, fault: f}, n)
}

// Delay adds a rule that holds the next n matching requests (n<=0: every
// one) for d, then passes them on.
func (p *Proxy) Delay(match func(*http.Request) bool, d time.Duration, n int) *Rule {
	return p.add(&Rule{match: match, fault: Pass, delay: d}, n)
}

func (p *Proxy) add(r *Rule, n int) *Rule {
	r.p, r.left = p, n
	if n <= 0 {
		r.left = -1
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, r)
	return r
}

// Remove takes the rule out; requests it would have matched pass.
func (r *Rule) Remove() {
	r.p.mu.Lock()
	defer r.p.mu.Unlock()
	for i, x := range r.p.rules {
		if x == r {
			r.p.rules = append(r.p.rules[:i:i], r.p.rules[i+1:]...)
			return
		}
	}
}

// Clear removes every rule: all requests pass.
func (p *Proxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = nil
}

// Seen returns how many requests matched the rule so far: those it applied
// to, and those it matched after its n applications were used up (e.g. a
// client's retry after a DropReply with n=1), as long as no earlier rule
// took them.
func (r *Rule) Seen() int {
	r.p.mu.Lock()
	defer r.p.mu.Unlock()
	return r.seen
}

// decide picks the fault and delay for req.
func (p *Proxy) decide(req *http.Request) (Fault, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.rules {
		if !r.match(req) {
			continue
		}
		r.seen++
		if r.left == 0 {
			continue
		}
		if r.left > 0 {
			r.left--
		}
		return r.fault, r.delay
	}
	return Pass, 0
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	fault, delay := p.decide(r)
	if delay > 0 && !p.wait(r.Context(), time.After(delay)) {
		return
	}
	switch fault {
	case Reset:
		closeConn(w)
	case BlackHole:
		// Read the body so that the server notices when the client hangs up.
		_, _ = io.Copy(io.Discard, r.Body)
		p.wait(r.Context(), nil)
		closeConn(w)
	case DropReply:
		resp, err := p.forward(context.WithoutCancel(r.Context()), r)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		closeConn(w)
	default:
		p.pass(w, r)
	}
}

// wait blocks until ch fires (true), or the client leaves or the proxy
// stops (false).
func (p *Proxy) wait(ctx context.Context, ch <-chan time.Time) bool {
	select {
	case <-ch:
		return true
	case <-ctx.Done():
	case <-p.closed:
	}
	return false
}

// closeConn closes the client's connection without writing anything.
func closeConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // not hijackable: abort the connection instead
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // a reset, not an orderly close
	}
	conn.Close()
}

// hopHeaders are per-connection headers a proxy does not forward.
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func stripHop(h http.Header) {
	for _, f := range h.Values("Connection") {
		for _, name := range strings.Split(f, ",") {
			h.Del(strings.TrimSpace(name))
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}

// forward sends r to the upstream with its Host, path, query, headers and
// body unchanged.
func (p *Proxy) forward(ctx context.Context, r *http.Request) (*http.Response, error) {
	out := r.Clone(ctx)
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host = p.upstream.Scheme, p.upstream.Host
	if base := strings.TrimSuffix(p.upstream.Path, "/"); base != "" {
		out.URL.Path = base + r.URL.Path
		if r.URL.RawPath != "" {
			out.URL.RawPath = base + r.URL.RawPath
		}
	}
	out.Host = r.Host
	out.Close = false
	stripHop(out.Header)
	if r.ContentLength == 0 {
		out.Body = nil
	}
	return p.rt.RoundTrip(out)
}

// pass relays the upstream's answer, flushing as it comes (watches and
// other streamed answers reach the client as the upstream writes them).
func (p *Proxy) pass(w http.ResponseWriter, r *http.Request) {
	resp, err := p.forward(r.Context(), r)
	if err != nil {
		http.Error(w, "faultproxy: upstream: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	stripHop(resp.Header)
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			_ = rc.Flush()
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				panic(http.ErrAbortHandler) // a cut answer stays cut
			}
			return
		}
	}
}

// Method matches requests with method m.
func Method(m string) func(*http.Request) bool {
	return func(r *http.Request) bool { return r.Method == m }
}

// PathContains matches requests whose path contains s.
func PathContains(s string) func(*http.Request) bool {
	return func(r *http.Request) bool { return strings.Contains(r.URL.Path, s) }
}

// All matches requests every one of ms matches.
func All(ms ...func(*http.Request) bool) func(*http.Request) bool {
	return func(r *http.Request) bool {
		for _, m := range ms {
			if !m(r) {
				return false
			}
		}
		return true
	}
}
