package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/textproto"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"
)

// FuzzRequestHead checks the fast path's reading of a request head against
// net/http's: whatever the fast path forwards itself, net/http reads as the
// same request (method, target, host, body length, fields), and the head
// sent to the slot reads as that request again. A difference would let a
// client make the proxy and the slot disagree about where a request ends.
func FuzzRequestHead(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /x?y=1 HTTP/1.1\r\nHost: a:80\r\nContent-Length: 3\r\nX-Request-Id: r\r\n\r\nabc",
		"GET /a%2e%2e/b HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n",
		"GET / HTTP/1.1\r\nhost: a\r\nX-Forwarded-For: 1.2.3.4\r\nX: \t v \t\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX:\x80\xff\r\n\r\n",
		"GET /../ HTTP/1.1\r\nHost: a\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 01\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		end := headEnd(b)
		if end <= 0 {
			return
		}
		var h reqHead
		if !parseRequestHead(b[:end], &h) {
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(b[:end])))
		if err != nil {
			t.Fatalf("fast path takes what net/http refuses (%v): %q", err, b[:end])
		}
		same(t, b[:end], req, &h)
		if !httpguts.ValidHostHeader(req.Host) {
			t.Fatalf("host %q: net/http's server refuses it", req.Host)
		}
		// the slot reads the forwarded head as the same request
		out := appendRequest(nil, &h, "127.0.0.1", "0123456789abcdef")
		fwd, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(out)))
		if err != nil {
			t.Fatalf("forwarded head unreadable (%v): %q", err, out)
		}
		same(t, out, fwd, &h)
		if v := fwd.Header.Values("X-Forwarded-For"); len(v) != 1 || v[0] != "127.0.0.1" {
			t.Fatalf("X-Forwarded-For %q in %q", v, out)
		}
	})
}

func same(t *testing.T, raw []byte, req *http.Request, h *reqHead) {
	t.Helper()
	if req.Method != string(h.method) || req.RequestURI != string(h.target) || req.Host != string(h.host) ||
		req.ContentLength != h.length || len(req.TransferEncoding) != 0 || req.Close || req.ProtoMinor != 1 {
		t.Fatalf("net/http reads %q as %s %s host %q length %d te %v close %v; fast path as %s %s host %q length %d",
			raw, req.Method, req.RequestURI, req.Host, req.ContentLength, req.TransferEncoding, req.Close, h.method, h.target, h.host, h.length)
	}
	want := http.Header{}
	for _, l := range h.keep {
		name, value, _ := strings.Cut(string(l), ":")
		want.Add(textproto.CanonicalMIMEHeaderKey(name), string(trimOWS([]byte(value))))
	}
	got := req.Header.Clone()
	for _, k := range []string{"Host", "Connection", "Keep-Alive", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "Forwarded"} {
		got.Del(k)
		want.Del(k)
	}
	if len(h.id) == 0 { // the proxy's own id, or none read from the client
		got.Del("X-Request-Id")
		want.Del("X-Request-Id")
	}
	if !equalHeader(got, want) {
		t.Fatalf("fields differ for %q:\nnet/http: %v\nfast path: %v", raw, got, want)
	}
}

func equalHeader(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, "\x00") != strings.Join(b[k], "\x00") {
			return false
		}
	}
	return true
}

func TestPlainTarget(t *testing.T) {
	for target, want := range map[string]bool{
		"/": true, "/a/b?c=d&e=/f": true, "/a%20b": true, "/x?q=a..b//c": true, "/a.b/c.": true,
		"": false, "*": false, "http://a/": false, "/a//b": false, "/a/./b": false, "/a/../b": false, "/a/..": false,
		"/a/.": false, "/a%2fb": false, "/a%2E%2E/b": false, "/a%zz": false, "/a%2": false, "/q?a;b": false,
		"/-/health": false, "/-/health?x": false, "/-/healthz": true, "/a b": false, "/a#f": false, "/a\\b": false,
	} {
		if got := plainTarget([]byte(target)); got != want {
			t.Errorf("plainTarget(%q) = %v, want %v", target, got, want)
		}
	}
}

func TestReadResponseHeadKeepsOnlyEndToEndFields(t *testing.T) {
	raw := "HTTP/1.1 200 OK\r\nConnection: close, X-Hop\r\nX-Hop: 1\r\nX-End: 2\r\nContent-Length: 3\r\nContent-Length: 3\r\nTrailer: X-T\r\n\r\nabc"
	var h respHead
	if err := readResponseHead(bufio.NewReader(strings.NewReader(raw)), false, &h, nil); err != nil {
		t.Fatal(err)
	}
	if got := string(h.out); got != "HTTP/1.1 200 OK\r\nX-End: 2\r\nContent-Length: 3\r\n" || h.reuse || h.framing != lengthBody || h.length != 3 {
		t.Fatalf("head %q reuse %v framing %v length %d", got, h.reuse, h.framing, h.length)
	}
	for _, bad := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
		"HTTP/1.1 2x0 OK\r\n\r\n",
		"HTTP/2 200\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX folded\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\n\r\n",
	} {
		if err := readResponseHead(bufio.NewReader(strings.NewReader(bad)), false, &h, nil); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	if err := readResponseHead(bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\nContent-Le")), false, &h, nil); err != io.ErrUnexpectedEOF {
		t.Errorf("cut head: %v", err)
	}
}

func TestHeadEndByLineRule(t *testing.T) {
	for in, want := range map[string]int{
		"HTTP/1.1 200 OK\r\nA: 1\r\n\r\nbody":                          len("HTTP/1.1 200 OK\r\nA: 1\r\n\r\n"),
		"HTTP/1.1 200 OK\r\nA: 1\r\n":                                  0,
		"HTTP/1.1 200 OK\r\nA: 1\n\n":                                  -1,
		"HTTP/1.1 200 OK\r\nA: 1\n\r\nabc\r\n\r\n":                     -1, // ends at \n\r\n, not inside the body
		"HTTP/1.1 200 OK\r\nA: 1\n\r\n":                                -1,
		"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab\n\r\n":         len("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n"),
		"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\nHost: b\n\n": len("GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
	} {
		if got := headEnd([]byte(in)); got != want {
			t.Errorf("headEnd(%q) = %d, want %d", in, got, want)
		}
	}
}
