package proxy

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/maintenance/page"
	"github.com/deployctl/deployctl/pkg/provider"
)

// seen is what an echoing slot reports about the request it got.
type seen struct {
	Method, URI, Host, Body string
	Length                  int64
	TE                      []string
	Header                  http.Header
}

// echoSlot makes blue answer with what it received, as JSON.
func echoSlot(e *env) {
	e.blue.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		json.NewEncoder(w).Encode(seen{Method: r.Method, URI: r.RequestURI, Host: r.Host, Body: string(b), Length: r.ContentLength, TE: r.TransferEncoding, Header: r.Header})
	})
}

// rawConn is a client speaking HTTP/1.1 by hand on one connection.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, url string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (r *rawConn) send(s string) {
	r.t.Helper()
	if _, err := io.WriteString(r.c, s); err != nil {
		r.t.Fatal(err)
	}
}

// read reads one response to a request with method m.
func (r *rawConn) read(m string) (*http.Response, string) {
	r.t.Helper()
	resp, err := http.ReadResponse(r.br, &http.Request{Method: m})
	if err != nil {
		r.t.Fatalf("reading the response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatalf("reading the body: %v", err)
	}
	return resp, string(b)
}

func (r *rawConn) echo() seen {
	r.t.Helper()
	resp, body := r.read("GET")
	var s seen
	if err := json.Unmarshal([]byte(body), &s); err != nil || resp.StatusCode != 200 {
		r.t.Fatalf("%d %q: %v", resp.StatusCode, body, err)
	}
	return s
}

func TestFastPathForwardsPlainRequests(t *testing.T) {
	e := newEnv(t)
	echoSlot(e)
	var log syncBuffer
	var srv *Server
	p := e.start(t, func(s *Server) { s.AccessLog = &log; srv = s })
	c := dialRaw(t, p.url)
	// three requests pipelined on one connection, with forwarding headers
	// a client must not be able to set
	c.send("GET /a%20b?x=1&y=/z HTTP/1.1\r\nHost: api.example.com\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Host: evil\r\n" +
		"X-Forwarded-Proto: https\r\nForwarded: for=6.6.6.6\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nX-Custom:  kept as is \r\n\r\n" +
		"POST /upload HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 11\r\nX-Request-Id: mine-1\r\n\r\nhello world" +
		"DELETE /thing HTTP/1.1\r\nHost: api.example.com:8080\r\n\r\n")
	first := c.echo()
	if first.URI != "/a%20b?x=1&y=/z" || first.Host != "api.example.com" || first.Method != "GET" {
		t.Fatalf("request line or host changed: %+v", first)
	}
	h := first.Header
	if h.Get("X-Forwarded-For") != "127.0.0.1" || h.Get("X-Forwarded-Host") != "api.example.com" || h.Get("X-Forwarded-Proto") != "http" ||
		len(h["X-Forwarded-For"]) != 1 || h.Get("Forwarded") != "" || h.Get("Keep-Alive") != "" || h.Get("Connection") != "" {
		t.Fatalf("forwarding headers: %v", h)
	}
	if h.Get("X-Custom") != "kept as is" || len(h.Get("X-Request-Id")) != 16 {
		t.Fatalf("headers not passed on: %v", h)
	}
	second := c.echo()
	if second.Method != "POST" || second.Body != "hello world" || second.Length != 11 || second.Header.Get("X-Request-Id") != "mine-1" {
		t.Fatalf("POST: %+v", second)
	}
	if third := c.echo(); third.Method != "DELETE" || third.Host != "api.example.com:8080" || third.Header.Get("X-Forwarded-Host") != "api.example.com:8080" {
		t.Fatalf("DELETE: %+v", third)
	}
	if n, off := srv.fastServed.Load(), srv.handedOff.Load(); n != 3 || off != 0 {
		t.Fatalf("fast path served %d, handed off %d; want 3 and 0", n, off)
	}
	if want := map[bool]int64{true: 3}[loopsOn()]; srv.loopServed.Load() != want {
		t.Fatalf("event loop served %d, want %d", srv.loopServed.Load(), want)
	}
	waitFor(t, "three access log lines", func() bool { return strings.Count(log.String(), "\n") == 3 })
	var entry accessEntry
	json.Unmarshal([]byte(strings.Split(log.String(), "\n")[1]), &entry)
	if entry.ID != "mine-1" || entry.Method != "POST" || entry.Path != "/upload" || entry.Status != 200 || entry.Slot != "blue" || entry.Bytes == 0 {
		t.Fatalf("access log: %s", log.String())
	}
	json.Unmarshal([]byte(strings.Split(log.String(), "\n")[0]), &entry)
	if entry.Path != "/a b" {
		t.Fatalf("access log path is %q, want the unescaped /a b as net/http gives it", entry.Path)
	}
}

// TestHandOffToNetHTTP sends, on one connection each, a plain request and
// then one the fast path leaves to net/http, then a plain one again: every
// request is answered once and exactly as sent.
func TestHandOffToNetHTTP(t *testing.T) {
	e := newEnv(t)
	echoSlot(e)
	var srv *Server
	p := e.start(t, func(s *Server) { srv = s })
	const plain = "GET /plain HTTP/1.1\r\nHost: h\r\n\r\n"
	for _, tc := range []struct {
		name, req string
		check     func(seen) bool
	}{
		{"chunked body", "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
			func(s seen) bool { return s.Body == "hello" && s.Length == -1 }},
		{"expect continue", "PUT /e HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
			func(s seen) bool { return s.Body == "ok" }},
		{"semicolon in query", "GET /q?a=1;b=2 HTTP/1.1\r\nHost: h\r\n\r\n", func(s seen) bool { return s.Method == "GET" }},
		{"unusual method", "PROPFIND /d HTTP/1.1\r\nHost: h\r\n\r\n", func(s seen) bool { return s.Method == "PROPFIND" }},
		{"long header", "GET /l HTTP/1.1\r\nHost: h\r\nX-Big: " + strings.Repeat("b", 20<<10) + "\r\n\r\n",
			func(s seen) bool { return len(s.Header.Get("X-Big")) == 20<<10 }},
		{"TE and CL together", "POST /s HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
			func(s seen) bool { return s.Body == "" && s.Length == -1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := srv.handedOff.Load()
			c := dialRaw(t, p.url)
			c.send(plain)
			if s := c.echo(); s.URI != "/plain" {
				t.Fatalf("first request: %+v", s)
			}
			c.send(tc.req)
			resp, body := c.read("GET")
			if strings.HasPrefix(tc.name, "expect") && resp.StatusCode == 100 {
				resp, body = c.read("GET")
			}
			var s seen
			if err := json.Unmarshal([]byte(body), &s); err != nil || !tc.check(s) || s.Header.Get("X-Forwarded-For") != "127.0.0.1" {
				t.Fatalf("%d %s: %+v %v", resp.StatusCode, body, s, err)
			}
			c.send(plain)
			if s := c.echo(); s.URI != "/plain" {
				t.Fatalf("request after the hand-off: %+v", s)
			}
			if srv.handedOff.Load() != before+1 {
				t.Fatalf("connection not handed off")
			}
		})
	}
	// what net/http refuses stays refused, and the slot never sees it
	for name, req := range map[string]string{
		"two lengths":   "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
		"no host":       "GET / HTTP/1.1\r\n\r\n",
		"bare LF":       "GET / HTTP/1.1\nHost: h\nX-A: 1\n\n",
		"folded header": "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n  2\r\n\r\n",
		"space in name": "GET / HTTP/1.1\r\nHost: h\r\nX-A : 1\r\n\r\n",
	} {
		c := dialRaw(t, p.url)
		c.send(req)
		resp, body := c.read("GET")
		if name == "bare LF" || name == "folded header" { // net/http takes these; the fast path leaves them to it
			if resp.StatusCode != 200 || !strings.Contains(body, `"Method":"GET"`) {
				t.Fatalf("%s: %d %s", name, resp.StatusCode, body)
			}
			continue
		}
		if resp.StatusCode != 400 {
			t.Fatalf("%s: %d %s; want 400 from net/http", name, resp.StatusCode, body)
		}
	}
}

func TestFastPathHealthAndMaintenanceOnOpenConnection(t *testing.T) {
	e := newEnv(t)
	pg, err := page.New("", []string{"/health"})
	if err != nil {
		t.Fatal(err)
	}
	p := e.start(t, func(s *Server) { s.Maintenance = pg.Wrap })
	c := dialRaw(t, p.url)
	c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	if resp, body := c.read("GET"); resp.StatusCode != 200 || body != "blue" {
		t.Fatalf("before: %d %q", resp.StatusCode, body)
	}
	if err := e.router.SetMaintenance(t.Context(), provider.MaintenanceState{On: true, Message: "back soon"}); err != nil {
		t.Fatal(err)
	}
	// the same keep-alive connection gets the page at once
	c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	if resp, body := c.read("GET"); resp.StatusCode != 503 || !strings.Contains(body, "back soon") || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("maintenance on, same connection: %d %q", resp.StatusCode, body)
	}
	c.send("GET /-/health HTTP/1.1\r\nHost: h\r\n\r\n")
	if resp, body := c.read("GET"); resp.StatusCode != 200 || !strings.Contains(body, `"maintenance":true`) {
		t.Fatalf("/-/health: %d %q", resp.StatusCode, body)
	}
	if err := e.router.SetMaintenance(t.Context(), provider.MaintenanceState{}); err != nil {
		t.Fatal(err)
	}
	c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	if resp, body := c.read("GET"); resp.StatusCode != 200 || body != "blue" {
		t.Fatalf("after: %d %q", resp.StatusCode, body)
	}
}

// scriptedSlot answers every request with the next canned response, on
// connections it keeps open unless told to close ("<close>" at the end).
// What follows "<later>" is sent 100 ms after the rest.
func scriptedSlot(t *testing.T, answers ...string) (string, func() []string) {
	t.Helper()
	url, got, _ := countedSlot(t, answers...)
	return url, got
}

// countedSlot is scriptedSlot that also tells how many connections the
// proxy opened to it.
func countedSlot(t *testing.T, answers ...string) (string, func() []string, func() int) {
	t.Helper()
	var conns atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	var got []string
	next := make(chan string, len(answers))
	for _, a := range answers {
		next <- a
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					r, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, r.Body)
					mu.Lock()
					got = append(got, r.Method+" "+r.RequestURI)
					mu.Unlock()
					a := <-next
					if a == "" {
						return
					}
					now, later, _ := strings.Cut(strings.TrimSuffix(a, "<close>"), "<later>")
					io.WriteString(c, now)
					if later != "" { // sent once the connection is idle again
						time.Sleep(100 * time.Millisecond)
						io.WriteString(c, later)
					}
					if strings.HasSuffix(a, "<close>") {
						return
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String(), func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), got...) },
		func() int { return int(conns.Load()) }
}

func TestFastPathResponseFraming(t *testing.T) {
	for _, tc := range []struct {
		name, method, answer string
		status               int
		body                 string
		header               map[string]string // "" means absent
		closes               bool              // the proxy closes the client's connection after
		informational        int               // 1xx answers before the final one
	}{
		{name: "length", method: "GET", answer: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-App: 1\r\n\r\nhello",
			status: 200, body: "hello", header: map[string]string{"X-App": "1", "X-Request-Id": "rid"}},
		{name: "chunked with trailer", method: "GET", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Sum: 5\r\n\r\n",
			status: 200, body: "abcde"},
		{name: "until close", method: "GET", answer: "HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\nall of it<close>",
			status: 200, body: "all of it", closes: true},
		{name: "head", method: "HEAD", answer: "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", status: 200},
		{name: "no content", method: "GET", answer: "HTTP/1.1 204 No Content\r\n\r\n", status: 204},
		{name: "not modified", method: "GET", answer: "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", status: 304},
		{name: "too many informational answers", method: "GET", answer: strings.Repeat("HTTP/1.1 102 Processing\r\n\r\n", 6) + "<close>",
			status: 502, body: "bad gateway: slot blue is not answering\n", informational: 5},
		{name: "hop-by-hop removed", method: "GET", answer: "HTTP/1.1 200 OK\r\nConnection: X-Secret, keep-alive\r\nX-Secret: s\r\nKeep-Alive: timeout=1\r\nUpgrade: h2c\r\nContent-Length: 0\r\n\r\n",
			status: 200, header: map[string]string{"X-Secret": "", "Keep-Alive": "", "Upgrade": "", "Connection": ""}},
		{name: "more than its length from the slot", method: "GET", answer: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfake",
			status: 200, body: "ok"},
		{name: "slot's own request id", method: "GET", answer: "HTTP/1.1 200 OK\r\nX-Request-Id: slot-id\r\nContent-Length: 0\r\n\r\n",
			status: 200, header: map[string]string{"X-Request-Id": "slot-id"}},
		{name: "bare LF from the slot", method: "GET", answer: "HTTP/1.1 200 OK\nContent-Length: 2\nX-A: b\n\nok", status: 200, body: "ok",
			header: map[string]string{"X-A": "b"}},
		{name: "malformed", method: "GET", answer: "HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n<close>", status: 502, body: "bad gateway: slot blue is not answering\n"},
		{name: "slot closes at once", method: "GET", answer: "", status: 502, body: "bad gateway: slot blue is not answering\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			slot, _ := scriptedSlot(t, tc.answer, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext")
			var srv *Server
			p := e.start(t, func(s *Server) { s.Slots[provider.Blue] = mustURL(slot); srv = s })
			c := dialRaw(t, p.url)
			c.send(tc.method + " / HTTP/1.1\r\nHost: h\r\nX-Request-Id: rid\r\n\r\n")
			for range tc.informational {
				if resp, _ := c.read(tc.method); resp.StatusCode/100 != 1 {
					t.Fatalf("got %d, want an informational answer first", resp.StatusCode)
				}
			}
			resp, body := c.read(tc.method)
			if resp.StatusCode != tc.status || body != tc.body {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, body, tc.status, tc.body)
			}
			for k, v := range tc.header {
				if got := strings.Join(resp.Header.Values(k), ","); got != v {
					t.Errorf("%s: %q, want %q (all: %v)", k, got, v, resp.Header)
				}
			}
			if tc.name == "chunked with trailer" && resp.Trailer.Get("X-Sum") != "5" {
				t.Errorf("trailer lost: %v", resp.Trailer)
			}
			if resp.Close != tc.closes {
				t.Fatalf("Connection: close is %v, want %v", resp.Close, tc.closes)
			}
			if tc.closes {
				if _, err := c.br.ReadByte(); err != io.EOF {
					t.Fatalf("connection still open after a body delimited by close: %v", err)
				}
				return
			}
			c.send("GET /next HTTP/1.1\r\nHost: h\r\n\r\n") // the client's connection goes on
			if resp, body := c.read("GET"); resp.StatusCode != 200 || body != "next" {
				t.Fatalf("next request: %d %q", resp.StatusCode, body)
			}
			if srv.handedOff.Load() != 0 {
				t.Fatal("handed off")
			}
		})
	}
}

func TestFastPathRetriesStaleConnectionOnlyWhenSafe(t *testing.T) {
	e := newEnv(t)
	slot, got := scriptedSlot(t,
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na", // then the slot drops the idle connection unannounced
		"", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb",
		"", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nc")
	p := e.start(t, func(s *Server) { s.Slots[provider.Blue] = mustURL(slot) })
	c := dialRaw(t, p.url)
	c.send("GET /1 HTTP/1.1\r\nHost: h\r\n\r\n")
	if _, body := c.read("GET"); body != "a" {
		t.Fatal(body)
	}
	c.send("GET /2 HTTP/1.1\r\nHost: h\r\n\r\n") // sent twice: dropped, then again on a new connection
	if _, body := c.read("GET"); body != "b" {
		t.Fatalf("GET not retried: %q", body)
	}
	c.send("POST /3 HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx") // never twice
	if resp, _ := c.read("POST"); resp.StatusCode != 502 {
		t.Fatalf("POST on a dropped connection: %d; want 502, not a second POST", resp.StatusCode)
	}
	if want := "GET /1,GET /2,GET /2,POST /3"; strings.Join(got(), ",") != want {
		t.Fatalf("slot saw %v, want %s", got(), want)
	}
}

func TestFastPathSlotDown(t *testing.T) {
	e := newEnv(t)
	e.blue.Close()
	p := e.start(t)
	c := dialRaw(t, p.url)
	for range 2 { // and the connection stays usable
		c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
		resp, body := c.read("GET")
		if resp.StatusCode != 502 || body != "bad gateway: slot blue is not answering\n" || resp.Header.Get("X-Request-Id") == "" {
			t.Fatalf("%d %q %v", resp.StatusCode, body, resp.Header)
		}
	}
}

func TestDrainClosesIdleKeepAliveConnections(t *testing.T) {
	e := newEnv(t)
	p := e.start(t)
	c := dialRaw(t, p.url)
	c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	c.read("GET")
	start := time.Now()
	p.stop(t)
	if _, err := c.br.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection not closed by the stop: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("stop waited %v for an idle connection", d)
	}
}

func TestStandardPathStillServes(t *testing.T) {
	e := newEnv(t)
	echoSlot(e)
	var srv *Server
	p := e.start(t, func(s *Server) { s.StandardPath = true; srv = s })
	c := dialRaw(t, p.url)
	c.send("GET /x HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n")
	if s := c.echo(); s.URI != "/x" || s.Header.Get("X-Forwarded-For") != "127.0.0.1" {
		t.Fatalf("%+v", s)
	}
	if srv.fastServed.Load() != 0 {
		t.Fatal("fast path used")
	}
}

// TestInformationalAnswersPassedOn: a 103 Early Hints reaches the client
// while the slot is still working on the final answer, on both paths,
// without the fields that were meant for the proxy alone.
func TestInformationalAnswersPassedOn(t *testing.T) {
	for _, standard := range []bool{false, true} {
		t.Run(map[bool]string{false: "fast path", true: "standard path"}[standard], func(t *testing.T) {
			e := newEnv(t)
			final := make(chan struct{})
			var once sync.Once
			release := func() { once.Do(func() { close(final) }) }
			e.blue.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Link", "</app.css>; rel=preload")
				w.Header().Set("Connection", "X-Hop")
				w.Header().Set("X-Hop", "secret")
				w.WriteHeader(http.StatusEarlyHints)
				w.Header().Del("Link")
				w.Header().Del("Connection")
				w.Header().Del("X-Hop")
				<-final // the final answer waits until the client has seen the hints
				io.WriteString(w, "done")
			})
			var srv *Server
			p := e.start(t, func(s *Server) { s.StandardPath = standard; srv = s })
			t.Cleanup(release) // before the proxy and the slot wait for the request in flight
			c := dialRaw(t, p.url)
			c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
			hints, _ := c.read("GET")
			release()
			if hints.StatusCode != http.StatusEarlyHints || hints.Header.Get("Link") != "</app.css>; rel=preload" {
				t.Fatalf("first answer %d %v, want 103 with the Link field", hints.StatusCode, hints.Header)
			}
			if hints.Header.Get("X-Hop") != "" || hints.Header.Get("Connection") != "" {
				t.Fatalf("hop-by-hop fields passed on: %v", hints.Header)
			}
			if resp, body := c.read("GET"); resp.StatusCode != 200 || body != "done" {
				t.Fatalf("final answer %d %q", resp.StatusCode, body)
			}
			if fast := srv.fastServed.Load() > 0; fast == standard {
				t.Fatalf("fast path used: %v, standard path asked: %v", fast, standard)
			}
		})
	}
}

// TestClientGoneCancelsSlotRequest: a client that closes its connection
// while the slot is still working takes its request with it, on both
// paths: the slot's request context ends, the access log says 499, and
// the proxy's pooled connections still work.
func TestClientGoneCancelsSlotRequest(t *testing.T) {
	for _, standard := range []bool{false, true} {
		t.Run(map[bool]string{false: "fast path", true: "standard path"}[standard], func(t *testing.T) {
			e := newEnv(t)
			canceled := make(chan struct{}, 1)
			e.blue.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/poll":
					select {
					case <-r.Context().Done():
						canceled <- struct{}{}
					case <-time.After(20 * time.Second):
					}
				case "/slow":
					time.Sleep(3 * watchAfter)
					io.WriteString(w, "slow")
				default:
					io.WriteString(w, "quick")
				}
			})
			var log syncBuffer
			var srv *Server
			p := e.start(t, func(s *Server) { s.StandardPath = standard; s.AccessLog = &log; srv = s })
			c := dialRaw(t, p.url)
			c.send("GET /poll HTTP/1.1\r\nHost: h\r\n\r\n")
			time.Sleep(3 * watchAfter) // past the moment the proxy starts watching
			c.c.Close()
			select {
			case <-canceled:
			case <-time.After(10 * time.Second):
				t.Fatal("the slot still works on the request of a client that went away")
			}
			waitFor(t, "access log entry", func() bool { return strings.Contains(log.String(), `"status":499`) })

			// a slow answer to a client that stays, with a request pipelined
			// behind it: nothing is cut short, and the order holds
			c = dialRaw(t, p.url)
			c.send("GET /slow HTTP/1.1\r\nHost: h\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n")
			if _, body := c.read("GET"); body != "slow" {
				t.Fatalf("slow answer: %q", body)
			}
			if _, body := c.read("GET"); body != "quick" {
				t.Fatalf("pipelined answer: %q", body)
			}
			// and a slow answer alone, then requests that are never sent
			// twice on the pooled connections to the slot: a connection the
			// watch had spoilt would fail them
			for _, req := range []string{"GET /slow", "POST /", "POST /"} {
				c.send(req + " HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx")
				if resp, body := c.read("GET"); resp.StatusCode != 200 || body == "" {
					t.Fatalf("%s after a watched request: %d %q", req, resp.StatusCode, body)
				}
			}
			if fast := srv.fastServed.Load() > 0; fast == standard {
				t.Fatalf("fast path used: %v, standard path asked: %v", fast, standard)
			}
		})
	}
}
