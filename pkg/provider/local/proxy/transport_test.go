package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestDirectTransportRetriesClosedIdleConnection(t *testing.T) {
	e := newEnv(t)
	e.blue.Close()
	// a slot that answers one request per connection and then closes it
	// without saying so, as one whose keep-alive timeout is short does: the
	// proxy's pooled connection is dead when it reuses it
	answers := make([]string, 20)
	for i := range answers {
		answers[i] = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nblue<close>"
	}
	slot, _ := scriptedSlot(t, answers...)
	p := e.start(t, func(s *Server) { s.Slots["blue"] = mustURL(slot) })
	for i := range 20 {
		if code, body := get(t, http.DefaultClient, p.url+"/"); code != 200 || body != "blue" {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
	}
}

func TestDirectTransportForwardsBodies(t *testing.T) {
	e := newEnv(t)
	e.blue.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %d", r.Method, strings.ToUpper(string(b)), r.ContentLength)
	})
	p := e.start(t)
	for _, size := range []int{5, 200_000} {
		body := strings.Repeat("x", size)
		resp, err := http.Post(p.url+"/echo", "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := fmt.Sprintf("POST %s %d", strings.Repeat("X", size), size); string(got) != want {
			t.Fatalf("echo of %d bytes: %.40q…", size, got)
		}
	}
	req, _ := http.NewRequest("HEAD", p.url+"/", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("HEAD: %v", err)
	}
}

func TestHostPort(t *testing.T) {
	for in, want := range map[string]string{"http://a:81": "a:81", "http://a": "a:80", "http://[::1]": "[::1]:80"} {
		if got := hostPort(mustURL(in)); got != want {
			t.Errorf("hostPort(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestDirectTransportDropsConnectionWithMoreThanTheAnswer: a slot that sends
// more than its Content-Length is out of step; what follows must never be
// read as the answer to the next request (a smuggled response).
func TestDirectTransportDropsConnectionWithMoreThanTheAnswer(t *testing.T) {
	e := newEnv(t)
	slot, _ := scriptedSlot(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfake",
		"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext")
	p := e.start(t, func(s *Server) { s.Slots["blue"] = mustURL(slot); s.StandardPath = true })
	for _, want := range []string{"ok", "next"} {
		if code, body := get(t, http.DefaultClient, p.url+"/"); code != 200 || body != want {
			t.Fatalf("got %d %q, want %q", code, body, want)
		}
	}
}

// A slot that writes after its answer, once the connection is idle in the
// pool (a handler that leaves a request body unread does): those bytes
// are never the answer to the next user, on any path.
func TestPooledConnectionThatSpeaksWhileIdleIsNotReused(t *testing.T) {
	eachPath(t, func(t *testing.T, setup func(*Server)) {
		e := newEnv(t)
		slot, _ := scriptedSlot(t,
			"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst<later>HTTP/1.1 200 OK\r\nContent-Length: 6\r\nSet-Cookie: session=victim\r\n\r\nstolen",
			"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext")
		p := e.start(t, func(s *Server) { s.Slots["blue"] = mustURL(slot); setup(s) })
		if code, body := get(t, http.DefaultClient, p.url+"/"); code != 200 || body != "first" {
			t.Fatalf("first: %d %q", code, body)
		}
		time.Sleep(300 * time.Millisecond)                                          // the late bytes reach the proxy's idle connection
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}} // another user
		if code, body := get(t, client, p.url+"/"); code != 200 || body != "next" {
			t.Fatalf("the next user got %d %q, want their own answer", code, body)
		}
	})
}

// A pooled connection older than the idle timeout is closed, not reused:
// the proxy lets go of it before the slot's own keep-alive timeout does.
func TestPooledConnectionExpiresAfterIdleTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	clock := time.Unix(1000, 0)
	tr := newDirectTransport(ln.Addr().String(), nil)
	tr.now = func() time.Time { return clock }
	c, reused, err := tr.get(t.Context())
	if err != nil || reused {
		t.Fatalf("first get: reused %v, %v", reused, err)
	}
	<-accepted
	tr.put(c)
	clock = clock.Add(DefaultSlotIdleTimeout - time.Millisecond)
	if again, reused, _ := tr.get(t.Context()); !reused || again != c {
		t.Fatalf("a connection idle for less than the timeout must be reused")
	}
	tr.put(c)
	clock = clock.Add(DefaultSlotIdleTimeout)
	fresh, reused, err := tr.get(t.Context())
	if err != nil || reused || fresh == c {
		t.Fatalf("an expired connection was reused (%v)", err)
	}
	defer fresh.Close()
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("the expired connection is still open")
	}
}

// A slot that closes its idle keep-alive connections (Node after 5 s,
// gunicorn after 2 s): a POST, which is not sent twice, must not land on
// such a dead pooled connection and get a 502.
func TestPostAfterSlotClosedIdleConnection(t *testing.T) {
	eachPath(t, func(t *testing.T, setup func(*Server)) {
		e := newEnv(t)
		answers := make([]string, 10)
		for i := range answers {
			answers[i] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok<close>"
		}
		slot, _ := scriptedSlot(t, answers...)
		p := e.start(t, func(s *Server) { s.Slots["blue"] = mustURL(slot); setup(s) })
		for i := range answers {
			resp, err := http.Post(p.url+"/orders", "text/plain", strings.NewReader("order"))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != "ok" {
				t.Fatalf("POST %d: %d %q", i, resp.StatusCode, body)
			}
			time.Sleep(20 * time.Millisecond) // the slot's close reaches the proxy
		}
	})
}

// traffic.local.slot_idle_timeout holds on every path: a slot connection
// is reused while it is fresh and replaced once it waited longer.
func TestSlotIdleTimeoutOnEveryPath(t *testing.T) {
	eachPath(t, func(t *testing.T, setup func(*Server)) {
		e := newEnv(t)
		slot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.RemoteAddr) }))
		t.Cleanup(slot.Close)
		p := e.start(t, func(s *Server) {
			s.Slots["blue"], s.SlotIdleTimeout = mustURL(slot.URL), 300*time.Millisecond
			setup(s)
		})
		_, first := get(t, http.DefaultClient, p.url+"/")
		_, second := get(t, http.DefaultClient, p.url+"/")
		if standard := (&Server{}); setupOf(setup, standard).StandardPath {
			if first == second { // one request per connection (see Server.handler)
				t.Fatalf("the standard path reused a slot connection: %s", first)
			}
			return
		}
		if first != second {
			t.Fatalf("a fresh pooled connection was not reused: %s then %s", first, second)
		}
		time.Sleep(600 * time.Millisecond)
		if _, third := get(t, http.DefaultClient, p.url+"/"); third == second {
			t.Fatalf("the connection from %s was reused after waiting past the idle timeout", third)
		}
	})
}

// A slot's Connection header never strips the answer's framing: with
// "Connection: Content-Length" the client still gets the length, so that
// a kept-alive client connection knows where the answer ends (finding 4).
func TestConnectionHeaderDoesNotStripFraming(t *testing.T) {
	eachPath(t, func(t *testing.T, setup func(*Server)) {
		e := newEnv(t)
		slot, _ := scriptedSlot(t,
			"HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 5\r\n\r\nhello",
			"HTTP/1.1 200 OK\r\nConnection: Transfer-Encoding, X-Drop\r\nX-Drop: 1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nworld\r\n0\r\n\r\n",
			"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext")
		p := e.start(t, func(s *Server) { s.Slots["blue"] = mustURL(slot); setup(s) })
		c := dialRaw(t, p.url)
		for _, want := range []string{"hello", "world", "next"} {
			c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
			resp, body := c.read("GET")
			if resp.StatusCode != 200 || body != want {
				t.Fatalf("got %d %q, want %q", resp.StatusCode, body, want)
			}
			if resp.ContentLength < 0 && len(resp.TransferEncoding) == 0 || resp.Close {
				t.Fatalf("%q reached the client unframed on a kept-alive connection: %+v", want, resp.Header)
			}
			if resp.Header.Get("X-Drop") != "" {
				t.Errorf("a field the slot's Connection names reached the client")
			}
		}
	})
}

// An answer head whose last field line ends with a bare LF ("…\n\r\n")
// ends there, by the line rule net/http reads by, on every path; the loops
// used to look for the first CRLF CRLF, inside the body (finding 6).
func TestAnswerHeadEndsByTheLineRule(t *testing.T) {
	eachPath(t, func(t *testing.T, setup func(*Server)) {
		e := newEnv(t)
		slot, _ := scriptedSlot(t, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\nX-A: 1\n\r\nabc\r\n\r\nxy")
		p := e.start(t, func(s *Server) { s.Slots["blue"] = mustURL(slot); setup(s) })
		c := dialRaw(t, p.url)
		c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
		if resp, body := c.read("GET"); resp.StatusCode == 200 && body != "abc\r\n\r\nxy" || resp.StatusCode != 200 && resp.StatusCode != 502 {
			t.Fatalf("got %d %q: want the whole body or a 502", resp.StatusCode, body)
		}
	})
}

// eachPath runs test on the three paths of the proxy: net/http, the
// goroutine fast path and the default (the event loops on Linux).
func eachPath(t *testing.T, test func(t *testing.T, setup func(*Server))) {
	for name, setup := range map[string]func(*Server){
		"net/http":   func(s *Server) { s.StandardPath = true },
		"goroutines": func(s *Server) { s.EventLoops = -1 },
		"default":    func(s *Server) {},
	} {
		t.Run(name, func(t *testing.T) { test(t, setup) })
	}
}

// brokenConn is a pooled connection whose writes fail before a byte goes
// out, as one the slot reset while it was idle.
type brokenConn struct{ net.Conn }

func (brokenConn) Write([]byte) (int, error) { return 0, fmt.Errorf("write: broken pipe") }

// A request of which nothing was written on a reused connection is sent
// again on a new one whatever its method: nothing of it reached the slot.
// A POST that did reach it is never sent twice.
func TestUnsentRequestRetriedWhateverItsMethod(t *testing.T) {
	var seen atomic.Int32
	slot := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		io.WriteString(w, "ok")
	}))
	t.Cleanup(slot.Close)
	tr := newDirectTransport(strings.TrimPrefix(slot.URL, "http://"), http.DefaultTransport)
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	tr.put(newUpConn(brokenConn{a}, nil))
	req, _ := http.NewRequest(http.MethodDelete, slot.URL+"/orders/1", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("a DELETE of which nothing was written was not sent again: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok" || seen.Load() != 1 {
		t.Fatalf("got %q; the slot saw %d requests", body, seen.Load())
	}
}

// setupOf applies setup to s and returns it.
func setupOf(setup func(*Server), s *Server) *Server { setup(s); return s }

// A pooled slot connection is closed at the idle timeout even when no
// request comes to find it expired: the slot sees the proxy's close.
func TestIdleSlotConnectionClosedWithoutTraffic(t *testing.T) {
	eachPath(t, func(t *testing.T, setup func(*Server)) {
		e := newEnv(t)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		closed := make(chan error, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			br := bufio.NewReader(c)
			if _, err := http.ReadRequest(br); err != nil {
				closed <- err
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = br.ReadByte()
			closed <- err
		}()
		p := e.start(t, func(s *Server) {
			s.Slots["blue"], s.SlotIdleTimeout = mustURL("http://"+ln.Addr().String()), 300*time.Millisecond
			setup(s)
		})
		if code, body := get(t, http.DefaultClient, p.url+"/"); code != 200 || body != "ok" {
			t.Fatalf("%d %q", code, body)
		}
		if err := <-closed; !errors.Is(err, io.EOF) {
			t.Fatalf("the idle slot connection was not closed by the proxy: %v", err)
		}
	})
}
