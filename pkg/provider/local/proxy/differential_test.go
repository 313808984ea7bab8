package proxy

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The differential test of the slot side and the pool (finding 1 and the
// rest): a slot that misbehaves in every way the findings name answers a
// mix of requests from several clients at once, through the three paths
// of the proxy and through stock httputil.ReverseProxy, the reference.
// Every request carries its own token, which the slot echoes; a client
// must get its own token, or a 502/504 or a cut connection where the slot
// misbehaved, and never another's. A well-formed answer to a request that
// may be sent twice must arrive whole on every path, as on the reference.

// chaos is one way for the slot to answer; well says it is well-formed.
type chaos struct {
	name   string
	method string
	well   bool
}

var chaoses = []chaos{
	{"ok", "GET", true}, {"chunked", "GET", true}, {"info", "GET", true}, {"slow", "GET", true},
	{"head", "HEAD", true}, {"post", "POST", false}, {"idleclose", "GET", true},
	{"junknow", "GET", false}, {"junklater", "GET", false}, {"cut", "GET", false}, {"untilclose", "GET", false},
	{"badlength", "GET", false}, {"badchunk", "GET", false}, {"headbody", "HEAD", false},
	{"nocontentbody", "GET", false}, {"notmodifiedbody", "GET", false}, {"ctl", "GET", false},
}

// forged is a whole answer carrying tok: sent where the slot should send
// nothing, it is what the next user of the connection must never get.
func forged(tok string) string {
	return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-Token: %s\r\n\r\ntok:%s", 4+len(tok), tok, tok)
}

func okAnswer(tok string) string { return forged(tok) }

// chaosSlot serves the chaos answers on raw connections.
func chaosSlot(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveChaos(c)
		}
	}()
	return "http://" + ln.Addr().String()
}

func serveChaos(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		r, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, r.Body)
		tok := r.Header.Get("X-Token")
		name := strings.TrimPrefix(r.URL.Path, "/")
		w := func(s string) { io.WriteString(c, s) }
		switch name {
		case "ok", "post":
			w(okAnswer(tok))
		case "chunked":
			w("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Token: " + tok + "\r\n\r\n4\r\ntok:\r\n" +
				fmt.Sprintf("%x\r\n%s\r\n0\r\nX-Sum: 1\r\n\r\n", len(tok), tok))
		case "info":
			w("HTTP/1.1 103 Early Hints\r\nLink: </app.css>; rel=preload\r\n\r\n" + okAnswer(tok))
		case "slow":
			time.Sleep(20 * time.Millisecond)
			w(okAnswer(tok))
		case "head":
			w(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-Token: %s\r\n\r\n", 4+len(tok), tok))
		case "idleclose": // a short keep-alive timeout of the slot's own
			w(okAnswer(tok))
			c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
			if _, err := br.Peek(1); err != nil {
				return
			}
		case "junknow": // more than the answer, at once
			w(okAnswer(tok) + forged(tok))
		case "junklater": // more than the answer, once the connection is idle
			w(okAnswer(tok))
			c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if _, err := br.Peek(1); err != nil {
				w(forged(tok))
			}
		case "cut":
			w(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nX-Token: %s\r\n\r\ntok:", tok))
			return
		case "untilclose":
			w("HTTP/1.1 200 OK\r\nX-Token: " + tok + "\r\n\r\ntok:" + tok)
			return
		case "badlength":
			w("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n" + forged(tok))
		case "badchunk":
			w("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n" + forged(tok))
		case "headbody": // a HEAD answered with a body
			w(okAnswer(tok) + forged(tok))
		case "nocontentbody":
			w("HTTP/1.1 204 No Content\r\n\r\n" + forged(tok))
		case "notmodifiedbody":
			w("HTTP/1.1 304 Not Modified\r\n\r\n" + forged(tok))
		case "ctl":
			w("HTTP/1.1 200 OK\r\nX-A: a\rb\r\n" + strings.TrimPrefix(okAnswer(tok), "HTTP/1.1 200 OK\r\n"))
		default:
			return
		}
	}
}

// errorer is what drive needs of a test.
type errorer interface {
	Errorf(format string, args ...any)
}

// outcome of one request
type outcome struct {
	status int // 0: the connection was cut
	token  string
}

// drive sends rounds of random chaos requests from clients at once to url
// and checks every answer against its own token. It returns the outcomes
// by chaos and status (0: cut), and how many clients got another's answer.
func drive(t errorer, url string, seed uint64, clients, rounds int) (map[string]map[int]int, int) {
	var leaks atomic.Int32
	var mu sync.Mutex
	stats := map[string]map[int]int{}
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			cl := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2}, Timeout: 10 * time.Second}
			defer cl.CloseIdleConnections()
			for n := range rounds {
				ch := chaoses[rng.IntN(len(chaoses))]
				tok := fmt.Sprintf("c%dr%d", i, n)
				got := send(cl, url, ch, tok)
				mu.Lock()
				if stats[ch.name] == nil {
					stats[ch.name] = map[int]int{}
				}
				stats[ch.name][got.status]++
				mu.Unlock()
				switch {
				case got.token != "" && got.token != tok:
					leaks.Add(1)
					t.Errorf("%s %s (%s): the client got another request's answer %q", ch.method, ch.name, tok, got.token)
				case got.status == 200 && got.token == tok:
				case ch.well && ch.method != "POST":
					t.Errorf("%s %s (%s): a well-formed answer gave %d", ch.method, ch.name, tok, got.status)
				case got.status == 204 && ch.name == "nocontentbody", got.status == 304 && ch.name == "notmodifiedbody":
				case got.status != 0 && got.status != 502 && got.status != 504 && !(got.status == 200 && got.token == ""):
					t.Errorf("%s %s (%s): status %d", ch.method, ch.name, tok, got.status)
				}
			}
		}()
	}
	wg.Wait()
	return stats, int(leaks.Load())
}

func send(cl *http.Client, url string, ch chaos, tok string) outcome {
	var body io.Reader
	if ch.method == "POST" {
		body = strings.NewReader("order " + tok)
	}
	req, _ := http.NewRequest(ch.method, url+"/"+ch.name, body)
	req.Header.Set("X-Token", tok)
	resp, err := cl.Do(req)
	if err != nil {
		return outcome{}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	o := outcome{status: resp.StatusCode}
	if h := resp.Header.Get("X-Token"); h != "" && resp.StatusCode == 200 {
		o.token = h
	}
	if bt, ok := strings.CutPrefix(string(b), "tok:"); ok && err == nil {
		if o.token != "" && bt != o.token {
			o.token = "header " + o.token + " body " + bt
		} else {
			o.token = bt
		}
	} else if err != nil && ch.method != "HEAD" {
		o.status = 0 // the answer was cut
	}
	return o
}

func TestDifferentialSlotSide(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	slot := chaosSlot(t)
	ref := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(mustURL(slot)) },
		ErrorLog: discardLog()})
	t.Cleanup(ref.Close)
	// The reference itself does not keep the rule: Go's Transport reads
	// bytes sent after an answer as the next request's answer when that
	// request takes the connection before its reader sees them, and the
	// answers after it shift too. What it does is logged (docs/rollout.md
	// has the figures), not failed.
	t.Run("reference", func(t *testing.T) {
		ft := &logOnly{T: t}
		stats, leaks := drive(ft, ref.URL, seed, 4, 300)
		t.Logf("%v; another's answer %d times, %d answers wrong in all, in %d requests", stats, leaks, ft.n, 4*300)
	})
	eachPath(t, func(t *testing.T, setup func(*Server)) {
		e := newEnv(t)
		p := e.start(t, func(s *Server) { s.Slots["blue"], s.SlotIdleTimeout = mustURL(slot), time.Second; setup(s) })
		stats, _ := drive(t, p.url, seed, 4, 300)
		t.Logf("%v", stats)
	})
}

// logOnly logs the reference's errors and counts them.
type logOnly struct {
	*testing.T
	mu sync.Mutex
	n  int
}

func (l *logOnly) Errorf(f string, a ...any) {
	l.mu.Lock()
	l.n++
	l.mu.Unlock()
	l.T.Logf(f, a...)
}

func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }
