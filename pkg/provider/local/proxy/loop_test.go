package proxy

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// testLoops is traffic.local.event_loops for the proxies these tests
// start, taken from the variable that overrides that key for the binary:
// scripts/test sets DEPLOYCTL_TRAFFIC_LOCAL_EVENT_LOOPS=off for a second
// run of this package, so that the goroutine fast path is tested whole too.
const testLoops = "DEPLOYCTL_TRAFFIC_LOCAL_EVENT_LOOPS"

func testEventLoops(t *testing.T) int {
	n, err := ParseEventLoops(os.Getenv(testLoops))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// loopsOn says whether the proxies these tests start serve with event loops.
func loopsOn() bool {
	n, err := ParseEventLoops(os.Getenv(testLoops))
	return evLoopsAvailable && err == nil && n >= 0
}

// concurrently runs client(0) … client(n-1) at once and fails the test with
// the errors they return.
func concurrently(t *testing.T, n int, client func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := client(i); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
}

// bodySlot makes blue answer /big/N with N bytes (Content-Length) and
// /sum with the length and SHA-256 of the request body it got.
func bodySlot(e *env) {
	e.blue.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n, ok := strings.CutPrefix(r.URL.Path, "/big/"); ok {
			size, _ := strconv.Atoi(n)
			w.Header().Set("Content-Length", n)
			w.Write(pattern(size))
			return
		}
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%d %x", len(b), sha256.Sum256(b))
	})
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// TestBodiesBothWaysOnOneConnection sends request bodies small and large,
// whole and in pieces, and takes answers small and large, slowly, all on one
// connection: every byte arrives, in order, and the connection goes on.
// Bodies the event loop holds whole (up to 64 KiB) it serves itself; a
// larger one goes to a goroutine, which streams it.
func TestBodiesBothWaysOnOneConnection(t *testing.T) {
	e := newEnv(t)
	bodySlot(e)
	var srv *Server
	p := e.start(t, func(s *Server) { srv = s })
	c := dialRaw(t, p.url)
	c.c.SetDeadline(time.Now().Add(60 * time.Second))

	post := func(size int, pieces int) {
		t.Helper()
		body := pattern(size)
		c.send("POST /sum HTTP/1.1\r\nHost: h\r\nContent-Length: " + strconv.Itoa(size) + "\r\n\r\n")
		for i := 0; i < pieces; i++ {
			time.Sleep(20 * time.Millisecond)
			c.send(string(body[i*size/pieces : (i+1)*size/pieces]))
		}
		want := fmt.Sprintf("%d %x", size, sha256.Sum256(body))
		if resp, got := c.read("POST"); resp.StatusCode != 200 || got != want {
			t.Fatalf("POST of %d bytes in %d pieces: %d %q, want %q", size, pieces, resp.StatusCode, got, want)
		}
	}
	big := func(size int, slow bool) {
		t.Helper()
		c.send("GET /big/" + strconv.Itoa(size) + " HTTP/1.1\r\nHost: h\r\n\r\n")
		if slow {
			time.Sleep(300 * time.Millisecond) // the proxy meets a full socket buffer and waits
		}
		resp, got := c.read("GET")
		if resp.StatusCode != 200 || !bytes.Equal([]byte(got), pattern(size)) {
			t.Fatalf("GET of %d bytes: %d, %d bytes, equal %v", size, resp.StatusCode, len(got), bytes.Equal([]byte(got), pattern(size)))
		}
	}
	post(11, 1)
	post(40<<10, 4) // head first, the body in pieces: the loop waits for it
	big(8<<20, true)
	big(0, false)
	post(60<<10, 1)
	if loopsOn() && srv.loopServed.Load() != 5 {
		t.Fatalf("event loop served %d of 5", srv.loopServed.Load())
	}
	post(300<<10, 3) // too large to hold: a goroutine streams it
	big(1<<20, false)
	post(0, 0)
	if n := srv.fastServed.Load(); n != 8 || srv.handedOff.Load() != 0 {
		t.Fatalf("fast path served %d, handed off %d; want 8 and 0", n, srv.handedOff.Load())
	}
	if !loopsOn() && srv.loopServed.Load() != 0 {
		t.Fatalf("event loop served %d with loops off", srv.loopServed.Load())
	}
}

// TestManyConnectionsAcrossLoops runs many clients at once, each with many
// requests on its connection: each answer is its own request's.
func TestManyConnectionsAcrossLoops(t *testing.T) {
	e := newEnv(t)
	echoSlot(e)
	var srv *Server
	p := e.start(t, func(s *Server) { srv = s })
	const clients, each = 40, 50
	concurrently(t, clients, func(i int) error {
		c := dialRaw(t, p.url)
		for j := range each {
			id := fmt.Sprintf("c%d-r%d", i, j)
			c.send("GET /" + id + " HTTP/1.1\r\nHost: h\r\nX-Request-Id: " + id + "\r\n\r\n")
			resp, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
			if err != nil {
				return err
			}
			b, _ := io.ReadAll(resp.Body)
			if !strings.Contains(string(b), `"URI":"/`+id+`"`) || resp.Header.Get("X-Request-Id") != id {
				return fmt.Errorf("request %s got %s", id, b)
			}
		}
		return nil
	})
	if want := int64(clients * each); srv.fastServed.Load() != want || loopsOn() && srv.loopServed.Load() != want {
		t.Fatalf("fast path served %d, loops %d; want %d", srv.fastServed.Load(), srv.loopServed.Load(), want)
	}
}

// TestHalfClosedClientGetsQuickAnswer: a client that closes its side of the
// connection right after its request (as `nc -N` does) still gets a quick
// answer; the request of one that waits longer than watchAfter for it is
// broken off, as for a client that went away.
func TestHalfClosedClientGetsQuickAnswer(t *testing.T) {
	e := newEnv(t)
	canceled := make(chan struct{}, 1)
	e.blue.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/poll" {
			select {
			case <-r.Context().Done():
				canceled <- struct{}{}
			case <-time.After(20 * time.Second):
			}
			return
		}
		time.Sleep(watchAfter / 4)
		io.WriteString(w, "quick")
	})
	p := e.start(t)
	c := dialRaw(t, p.url)
	c.send("GET /quick HTTP/1.1\r\nHost: h\r\n\r\n")
	c.c.(interface{ CloseWrite() error }).CloseWrite()
	if resp, body := c.read("GET"); resp.StatusCode != 200 || body != "quick" {
		t.Fatalf("half-closed client: %d %q", resp.StatusCode, body)
	}
	c = dialRaw(t, p.url)
	c.send("GET /poll HTTP/1.1\r\nHost: h\r\n\r\n")
	c.c.(interface{ CloseWrite() error }).CloseWrite()
	select {
	case <-canceled:
	case <-time.After(10 * time.Second):
		t.Fatal("the slot still works on the request of a client that went away")
	}
}

// TestRandomTraffic sends random requests (no body up to 200 KiB, written
// in random pieces, some pipelined, some asking to continue) for random
// answers (none up to 300 KiB, with a Content-Length or chunked, some after
// 103 Early Hints, some slow), on connections that each live for a few
// requests. Every answer must be its own request's, byte for byte, on
// whichever path serves it: a loop, a goroutine after a hand-off in the
// middle of a request, or net/http.
func TestRandomTraffic(t *testing.T) {
	e := newEnv(t)
	e.blue.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		size, _ := strconv.Atoi(q.Get("size"))
		body, _ := io.ReadAll(r.Body)
		if q.Get("hint") == "1" {
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Del("Link")
		}
		if d, err := time.ParseDuration(q.Get("sleep")); err == nil {
			time.Sleep(d)
		}
		w.Header().Set("X-Got", fmt.Sprintf("%d %x", len(body), sha256.Sum256(body)))
		if q.Get("chunked") != "1" {
			w.Header().Set("Content-Length", strconv.Itoa(size))
		}
		data := pattern(size)
		for len(data) > 0 { // in pieces: chunked answers get several chunks
			n := min(len(data), 50<<10)
			w.Write(data[:n])
			data = data[n:]
			if q.Get("chunked") == "1" {
				w.(http.Flusher).Flush()
			}
		}
	})
	var srv *Server
	p := e.start(t, func(s *Server) { srv = s })
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	const clients, each = 8, 40
	concurrently(t, clients, func(i int) error {
		rng := rand.New(rand.NewPCG(uint64(seed), uint64(i)))
		var c *rawConn
		for j := range each {
			if j%5 == 0 {
				if c != nil {
					c.c.Close()
				}
				c = dialRaw(t, p.url)
				c.c.SetDeadline(time.Now().Add(60 * time.Second))
			}
			if err := randomExchange(c, rng); err != nil {
				return fmt.Errorf("client %d request %d: %w", i, j, err)
			}
		}
		return nil
	})
	if loopsOn() && srv.loopServed.Load() == 0 {
		t.Fatal("no request served by an event loop")
	}
}

var (
	randomBodies  = []int{0, 0, 0, 1, 100, 4 << 10, 60 << 10, 70 << 10, 200 << 10}
	randomAnswers = []int{0, 10, 5 << 10, 64 << 10, 300 << 10}
)

// randomExchange sends one or two (pipelined) random requests on c and
// checks their answers.
func randomExchange(c *rawConn, rng *rand.Rand) error {
	type req struct {
		method string
		body   []byte
		size   int
	}
	n := 1
	if rng.IntN(5) == 0 {
		n = 2
	}
	var reqs []req
	var wire []byte
	for range n {
		r := req{method: "GET", size: randomAnswers[rng.IntN(len(randomAnswers))]}
		if b := randomBodies[rng.IntN(len(randomBodies))]; b > 0 {
			r.method, r.body = "POST", pattern(b)
		} else if rng.IntN(8) == 0 {
			r.method = "HEAD"
		}
		target := fmt.Sprintf("/r?size=%d", r.size)
		if rng.IntN(3) == 0 {
			target += "&chunked=1"
		}
		if rng.IntN(10) == 0 {
			target += "&hint=1"
		}
		if rng.IntN(10) == 0 {
			target += "&sleep=5ms"
		}
		head := r.method + " " + target + " HTTP/1.1\r\nHost: h\r\n"
		if len(r.body) > 0 {
			head += "Content-Length: " + strconv.Itoa(len(r.body)) + "\r\n"
			if n == 1 && rng.IntN(10) == 0 {
				head += "Expect: 100-continue\r\n"
			}
		}
		wire = append(append(wire, head+"\r\n"...), r.body...)
		reqs = append(reqs, r)
	}
	for len(wire) > 0 { // in random pieces
		k := min(len(wire), 1+rng.IntN(max(1, len(wire)/2+1)))
		if _, err := c.c.Write(wire[:k]); err != nil {
			return err
		}
		wire = wire[k:]
		if rng.IntN(4) == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	for _, r := range reqs {
		resp, err := http.ReadResponse(c.br, &http.Request{Method: r.method})
		for err == nil && resp.StatusCode < 200 { // 100 Continue, 103 Early Hints
			resp, err = http.ReadResponse(c.br, &http.Request{Method: r.method})
		}
		if err != nil {
			return err
		}
		got, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		want := pattern(r.size)
		if r.method == "HEAD" {
			want = nil
		}
		if resp.StatusCode != 200 || !bytes.Equal(got, want) {
			return fmt.Errorf("%s of %d bytes for %d: status %d, %d bytes, equal %v", r.method, len(r.body), r.size, resp.StatusCode, len(got), bytes.Equal(got, want))
		}
		if sum := fmt.Sprintf("%d %x", len(r.body), sha256.Sum256(r.body)); resp.Header.Get("X-Got") != sum {
			return fmt.Errorf("%s of %d bytes: the slot got %q, want %q", r.method, len(r.body), resp.Header.Get("X-Got"), sum)
		}
	}
	return nil
}

// TestChunkedAnswersStayOnTheLoop: answers in chunks, small and large, are
// relayed by the event loop itself, so the connection stays on it; a chunk
// the slot frames wrongly cuts the client's answer short instead of being
// passed on.
func TestChunkedAnswersStayOnTheLoop(t *testing.T) {
	e := newEnv(t)
	e.blue.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		size, _ := strconv.Atoi(r.URL.Query().Get("size"))
		data := pattern(size)
		for len(data) > 0 {
			n := min(len(data), 1000+len(data)/3)
			w.Write(data[:n])
			w.(http.Flusher).Flush() // no Content-Length: chunks
			data = data[n:]
		}
	})
	var srv *Server
	p := e.start(t, func(s *Server) { srv = s })
	c := dialRaw(t, p.url)
	for _, size := range []int{3000, 300 << 10, 0, 70 << 10} {
		c.send("GET /?size=" + strconv.Itoa(size) + " HTTP/1.1\r\nHost: h\r\n\r\n")
		resp, body := c.read("GET")
		if resp.StatusCode != 200 || body != string(pattern(size)) || size > 0 && len(resp.TransferEncoding) == 0 {
			t.Fatalf("size %d: %d, %d bytes, chunked %v", size, resp.StatusCode, len(body), resp.TransferEncoding)
		}
	}
	if want := map[bool]int64{true: 4}[loopsOn()]; srv.loopServed.Load() != want || srv.fastServed.Load() != 4 {
		t.Fatalf("event loop served %d, fast path %d; want %d and 4", srv.loopServed.Load(), srv.fastServed.Load(), want)
	}

	p.stop(t)
	slot, _ := scriptedSlot(t, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\nmore")
	p = e.start(t, func(s *Server) { s.Slots["blue"] = mustURL(slot) })
	c = dialRaw(t, p.url)
	c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	resp, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	if body, err := io.ReadAll(resp.Body); err == nil || string(body) != "abc" {
		t.Fatalf("a wrongly framed chunk: got %q, %v; want abc, then an error", body, err)
	}
	if _, err := c.br.ReadByte(); err != io.EOF {
		t.Fatalf("client connection still open after a cut answer: %v", err)
	}
}
