package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
)

// closes reads c until the proxy closes it and returns what came first; a
// connection still open after 5 s fails the test.
func closes(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the proxy kept the connection open (read so far: %q)", b)
	}
	return string(b)
}

func dialTCP(t *testing.T, url string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// traffic.local.header_timeout: a connection that sends nothing, or half
// a head, is closed (finding 3: the fast paths kept it forever).
func TestHeaderTimeoutOnEveryPath(t *testing.T) {
	eachPath(t, func(t *testing.T, setup func(*Server)) {
		e := newEnv(t)
		p := e.start(t, func(s *Server) { s.HeaderTimeout = 300 * time.Millisecond; setup(s) })
		silent := dialTCP(t, p.url)
		half := dialTCP(t, p.url)
		io.WriteString(half, "GET / HTTP/1.1\r\nHost: h\r\n")
		closes(t, silent)
		closes(t, half)
	})
}

// traffic.local.keepalive_timeout: a kept-alive connection idle after its
// answer is closed, though the header timeout is longer.
func TestKeepAliveTimeoutOnEveryPath(t *testing.T) {
	eachPath(t, func(t *testing.T, setup func(*Server)) {
		e := newEnv(t)
		p := e.start(t, func(s *Server) {
			s.HeaderTimeout, s.KeepAliveTimeout = time.Minute, 300*time.Millisecond
			setup(s)
		})
		c := dialRaw(t, p.url)
		c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
		if resp, body := c.read("GET"); resp.StatusCode != 200 || body != "blue" {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
		if rest := closes(t, c.c); rest != "" {
			t.Fatalf("more after the answer: %q", rest)
		}
	})
}

// traffic.local.body_timeout: a body that stops arriving ends the request
// and its connection; one that keeps coming, however slowly, is served.
func TestBodyTimeoutOnEveryPath(t *testing.T) {
	eachPath(t, func(t *testing.T, setup func(*Server)) {
		e := newEnv(t)
		bodySlot(e)
		p := e.start(t, func(s *Server) { s.BodyTimeout = 400 * time.Millisecond; setup(s) })
		stalled := dialTCP(t, p.url)
		io.WriteString(stalled, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nab")
		if got := closes(t, stalled); strings.HasPrefix(got, "HTTP/1.1 200") {
			t.Fatalf("a request with a stalled body was answered 200: %q", got)
		}
		slow := dialRaw(t, p.url)
		slow.send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\n")
		for _, b := range "abcd" {
			time.Sleep(150 * time.Millisecond) // progress within the timeout, over more than it in all
			slow.send(string(b))
		}
		if resp, body := slow.read("POST"); resp.StatusCode != 200 || !strings.HasPrefix(body, "4 ") {
			t.Fatalf("a slow but steady body: %d %q", resp.StatusCode, body)
		}
	})
}

// traffic.local.slot_read_timeout: a slot that takes the request and
// never answers gives the client a 504, and its connection goes on.
func TestSlotReadTimeoutOnEveryPath(t *testing.T) {
	eachPath(t, func(t *testing.T, setup func(*Server)) {
		e := newEnv(t)
		hang := make(chan struct{})
		t.Cleanup(func() { close(hang) })
		e.blue.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/hang" {
				select {
				case <-hang:
				case <-r.Context().Done():
				}
				return
			}
			io.WriteString(w, "blue")
		})
		p := e.start(t, func(s *Server) { s.SlotReadTimeout = 300 * time.Millisecond; setup(s) })
		c := dialRaw(t, p.url)
		c.send("GET /hang HTTP/1.1\r\nHost: h\r\n\r\n")
		if resp, body := c.read("GET"); resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(body, "slot blue") {
			t.Fatalf("got %d %q, want 504", resp.StatusCode, body)
		}
		c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
		if resp, body := c.read("GET"); resp.StatusCode != 200 || body != "blue" {
			t.Fatalf("next request: %d %q", resp.StatusCode, body)
		}
	})
}

// traffic.local.max_connections: beyond the limit a new client gets a
// short 503 and the close; those already connected are served on, and a
// place that frees up is taken again (finding 3: at the fd limit new
// clients were reset).
func TestMaxConnectionsOnEveryPath(t *testing.T) {
	eachPath(t, func(t *testing.T, setup func(*Server)) {
		e := newEnv(t)
		p := e.start(t, func(s *Server) { s.MaxConnections = 2; setup(s) })
		var open []*rawConn
		for range 2 {
			c := dialRaw(t, p.url)
			c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
			if resp, _ := c.read("GET"); resp.StatusCode != 200 {
				t.Fatalf("within the limit: %d", resp.StatusCode)
			}
			open = append(open, c)
		}
		over := dialTCP(t, p.url)
		if got := closes(t, over); !strings.HasPrefix(got, "HTTP/1.1 503 ") || !strings.Contains(got, "too many connections") {
			t.Fatalf("over the limit: %q, want a 503", got)
		}
		for _, c := range open {
			c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
			if resp, body := c.read("GET"); resp.StatusCode != 200 || body != "blue" {
				t.Fatalf("an open connection over the limit: %d %q", resp.StatusCode, body)
			}
		}
		open[0].c.Close()
		waitFor(t, "a freed place taken again", func() bool {
			c, err := net.Dial("tcp", strings.TrimPrefix(p.url, "http://"))
			if err != nil {
				return false
			}
			defer c.Close()
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			return err == nil && resp.StatusCode == 200
		})
	})
}

func TestLimitsChecked(t *testing.T) {
	s := DefaultSettings()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	s.BodyTimeout = 0
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "traffic.local.body_timeout") {
		t.Fatalf("a zero body timeout: %v", err)
	}
	s = DefaultSettings()
	s.MaxConnections = -1
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "max_connections") {
		t.Fatalf("a negative connection limit: %v", err)
	}
	// Go raised the soft descriptor limit to the hard one at start, which
	// autoMaxConnections counts on
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur != rl.Max && rl.Max < 1<<20 {
		t.Fatalf("RLIMIT_NOFILE soft %d, hard %d (%v): not raised at start", rl.Cur, rl.Max, err)
	}
	// each client may hold a slot connection too: the limit leaves room
	// for both under the descriptor limit
	if n := autoMaxConnections(); rl.Cur < 1<<30 && (2*n+fdReserve > int(rl.Cur) || n < 16) {
		t.Fatalf("automatic connection limit %d under a descriptor limit of %d", n, rl.Cur)
	}
}

// fast_path: false serves the slots through Go's stock http.Transport,
// not through the fast path's pools (finding: it shared them).
func TestStandardPathUsesStockTransport(t *testing.T) {
	e := newEnv(t)
	pools := func(standard bool) int {
		s := &Server{StandardPath: standard, Slots: map[provider.Slot]*url.URL{provider.Blue: mustURL(e.blue.URL), provider.Green: mustURL(e.green.URL)}}
		s.handler()
		n := 0
		for _, b := range s.routes().up {
			if b.pool != nil {
				n++
			}
		}
		return n
	}
	if n := pools(true); n != 0 {
		t.Fatalf("the standard path built %d direct pools", n)
	}
	if n := pools(false); n != 2 {
		t.Fatalf("the fast path built %d pools, want one per slot", n)
	}
}
