package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
)

// fastServer serves the proxy's connections. Plain HTTP/1.1 requests (see
// parseRequestHead) it forwards itself, byte for byte but for the headers a
// proxy sets: one read and one write on each side, no request or response
// objects, and no second goroutine per request. At the first request it
// does not take (a body in chunks, an upgrade, Expect, /-/health,
// maintenance on, anything unusual) it hands the connection, with the bytes
// already read, to net/http and httputil.ReverseProxy for the rest of its
// life. Profiled on loopback, this halves the proxy's CPU per request.
type fastServer struct {
	s       *Server
	lim     Limits
	gate    *gate // client connections, on every path
	handoff *handoffListener
	log     *accessLog

	// loops serve the connections when there are any (see evLoop);
	// goroutines serve those they hand over
	loops   []*evLoop
	next    atomic.Uint32
	loopsWG sync.WaitGroup

	mu      sync.Mutex
	conns   map[*fastConn]bool // true while serving a request
	closing bool
	wg      sync.WaitGroup // connections of goroutines and loops
}

// fastEligible says whether the slots allow the fast path: plain http
// slots without a path prefix, and no sticky cookies.
func fastEligible(s *Server) bool {
	if s.Sticky || s.StandardPath {
		return false
	}
	for _, u := range s.Slots {
		if !plainHTTP(u) {
			return false
		}
	}
	return true
}

func (f *fastServer) serve(ln net.Listener) error {
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if f.isClosing() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// out of file descriptors for a moment: wait, as net/http does
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				f.s.Log.Warn("accept failed; retrying", "error", err, "delay", delay.String())
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		if !f.gate.enter() {
			go refuse(c)
			continue
		}
		if len(f.loops) > 0 {
			f.toLoop(c)
			continue
		}
		fc := newFastConn(f, c, nil)
		f.mu.Lock()
		if f.closing {
			f.mu.Unlock()
			c.Close()
			f.gate.leave()
			continue
		}
		f.conns[fc] = false
		f.wg.Add(1)
		f.mu.Unlock()
		go fc.serve(nil, nil)
	}
}

func (f *fastServer) isClosing() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closing
}

// shutdown closes the idle connections, lets those serving a request finish
// it (closing them after), and waits for them until ctx ends; then it closes
// what is left.
func (f *fastServer) shutdown(ctx context.Context) error {
	f.mu.Lock()
	f.closing = true
	for fc, busy := range f.conns {
		if !busy {
			fc.c.Close()
		}
	}
	f.mu.Unlock()
	for _, l := range f.loops {
		l.post(func() { l.shutdown(false) })
	}
	done := make(chan struct{})
	go func() { f.wg.Wait(); f.loopsWG.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		f.mu.Lock()
		for fc := range f.conns {
			fc.c.Close()
		}
		f.mu.Unlock()
		for _, l := range f.loops {
			l.post(func() { l.shutdown(true) })
		}
		<-done
		return ctx.Err()
	}
}

// adopt takes a connection an event loop hands over (busy: in the middle
// of a request); false when the proxy is stopping and it is idle.
func (f *fastServer) adopt(fc *fastConn, busy bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closing && !busy {
		return false
	}
	f.conns[fc] = busy
	f.wg.Add(1)
	return true
}

// fastConn is one client connection on the fast path.
type fastConn struct {
	f      *fastServer
	c      net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	remote string // the client's address, as net/http gives it
	ip     string // the client's IP, for X-Forwarded-For
	req    reqHead
	resp   respHead
	out    []byte // the head sent to the slot
	body   *bodyClock

	// While a slot takes its time, a watcher notices the client going
	// away and breaks off the request to the slot (see watchClient).
	watch     *time.Timer
	watchDone chan struct{}
	watching  bool
	up        atomic.Pointer[upConn] // the slot connection of the request being watched
	gone      atomic.Bool            // the client went away during the request
}

// newFastConn serves c, whose first bytes, already read, are pre.
func newFastConn(f *fastServer, c net.Conn, pre []byte) *fastConn {
	var r io.Reader = rawReadWriter(c)
	if len(pre) > 0 {
		r = io.MultiReader(bytes.NewReader(pre), r)
	}
	body := &bodyClock{r: r, c: c}
	fc := &fastConn{f: f, c: c, br: bufio.NewReaderSize(body, 16<<10), bw: bufio.NewWriterSize(rawReadWriter(c), 16<<10),
		remote: c.RemoteAddr().String(), watchDone: make(chan struct{}, 1), body: body}
	fc.ip = fc.remote
	if host, _, err := net.SplitHostPort(fc.remote); err == nil {
		fc.ip = host
	}
	return fc
}

// setBusy marks the connection as serving a request, or idle; false means
// the proxy is stopping and the connection must close.
func (fc *fastConn) setBusy(busy bool) bool {
	fc.f.mu.Lock()
	defer fc.f.mu.Unlock()
	if fc.f.closing {
		return false
	}
	fc.f.conns[fc] = busy
	return true
}

func (fc *fastConn) done(handedOff bool) {
	fc.f.mu.Lock()
	delete(fc.f.conns, fc)
	fc.f.mu.Unlock()
	if !handedOff {
		fc.c.Close()
		fc.f.gate.leave()
	}
	fc.f.wg.Done()
}

// serve serves the connection's requests until it closes or goes to
// net/http. A connection the event loop hands over in the middle of a
// request comes with that request (ex, up) to finish first.
func (fc *fastConn) serve(ex *exchange, up *upConn) {
	handedOff := false
	defer func() { fc.done(handedOff) }()
	if up != nil && (!fc.resume(*ex, up) || !fc.setBusy(false)) {
		return
	}
	for first := up == nil; ; first = false {
		end, err := fc.readHead(first)
		if err != nil {
			return // the client went away, or timed out sending a head
		}
		if !fc.setBusy(true) {
			return
		}
		d, rt := fc.f.s.current(), fc.f.s.routes()
		if end < 0 || !parseRequestHead(fc.peek(end), &fc.req) || (fc.f.s.Maintenance != nil && d.Maintenance.On) || !rt.fast {
			fc.f.s.handedOff.Add(1)
			handedOff = fc.f.handoff.give(&handoffConn{Conn: fc.c, r: fc.br, g: fc.f.gate})
			return
		}
		fc.f.s.fastServed.Add(1)
		keep := fc.forward(d, rt)
		if !keep || !fc.setBusy(false) {
			return
		}
	}
}

// readHead waits for a request head to be buffered whole and returns its
// length, or -1 when it is not plain or does not fit the buffer (net/http
// takes those). A new connection (first) waits for its first head up to
// the header timeout, a kept-alive one up to the keep-alive timeout; from
// its first byte, a head has the header timeout to arrive whole.
func (fc *fastConn) readHead(first bool) (int, error) {
	lim := &fc.f.lim
	defer fc.c.SetReadDeadline(time.Time{})
	deadline := false
	if fc.br.Buffered() == 0 {
		wait := lim.KeepAliveTimeout
		if first {
			wait = lim.HeaderTimeout
		}
		fc.c.SetReadDeadline(time.Now().Add(wait))
		if _, err := fc.br.Peek(1); err != nil { // idle until the next request starts
			return 0, err
		}
		deadline = first
	}
	for {
		end := headEnd(fc.peek(fc.br.Buffered()))
		if end != 0 {
			return end, nil
		}
		if fc.br.Buffered() == fc.br.Size() {
			return -1, nil
		}
		if !deadline {
			fc.c.SetReadDeadline(time.Now().Add(lim.HeaderTimeout))
			deadline = true
		}
		if _, err := fc.br.Peek(fc.br.Buffered() + 1); err != nil {
			return 0, err
		}
	}
}

func (fc *fastConn) peek(n int) []byte {
	b, _ := fc.br.Peek(n)
	return b
}

// exchange is what the fast path keeps of a request on its way through:
// for the answer and the access log.
type exchange struct {
	start        time.Time
	id           string
	method, path string // for the access log
	slot         provider.Slot
	up           *backend // the slot's, when the request began
	head         bool     // a HEAD request: the answer has no body
}

// newExchange starts the request h: its slot by the weights of d and its
// backend in rt, its id (the client's, or a new one), and whether it may
// be sent twice (it has no body and changes nothing).
func (f *fastServer) newExchange(h *reqHead, d *Doc, rt *routes) (exchange, bool) {
	ex := exchange{start: time.Now(), slot: pick(d.Weights), head: string(h.method) == http.MethodHead, id: string(h.id)}
	ex.up = rt.of(ex.slot)
	if h.id == nil {
		ex.id = hexID(rand.Uint64())
	}
	if f.log != nil {
		ex.method, ex.path = string(h.method), requestPath(h.target)
	}
	replay := h.length == 0 && (ex.head || string(h.method) == http.MethodGet || string(h.method) == http.MethodOptions)
	return ex, replay
}

// forward sends the request in fc.req to a slot picked by the weights and
// its answer back, and says whether the client's connection stays open.
func (fc *fastConn) forward(d *Doc, rt *routes) bool {
	h := &fc.req
	ex, replay := fc.f.newExchange(h, d, rt)
	fc.out = appendRequest(fc.out[:0], h, fc.ip, ex.id)
	length := h.length
	fc.br.Discard(h.size) // h's slices are invalid from here on

	t := ex.up.pool
	var (
		c    *upConn
		err  error
		sent bool // the request body was read from the client
	)
	for attempt := 0; ; attempt++ {
		var reused bool
		c, reused, err = t.get(context.Background())
		if err != nil {
			break
		}
		c.bw.Write(fc.out)
		if !sent && length > 0 {
			fc.body.on(fc.f.lim.BodyTimeout)
			_, err = pump(c.bw, fc.br, length)
			fc.body.off()
			sent = true
			if err != nil && !isWriteErr(err) { // the client went away while sending its body
				c.Close()
				return false
			}
			if err != nil { // the slot's connection failed: not the client's
				err = errors.Unwrap(err)
			}
		}
		if err == nil {
			err = c.bw.Flush()
		}
		if err == nil {
			err = fc.readAnswerHead(c, ex)
		}
		if err == nil {
			break
		}
		fc.unwatch()
		c.Close()
		unsent := c.unsent()
		c = nil
		if fc.gone.Load() || isWriteErr(err) { // the client went away
			fc.logEntry(ex, statusClientGone, 0)
			return false
		}
		// A pooled connection the slot closed meanwhile fails before any
		// answer: send again on a fresh one when that is safe, or when
		// nothing of the request was written (and it has no body).
		if !reused || attempt > 0 || !(replay || unsent && length == 0) || fc.resp.info > 0 {
			break
		}
	}
	if err != nil {
		return fc.failed(ex, err, length == 0 || sent)
	}
	return fc.relay(ex, c)
}

// resume takes over a request the event loop sent to a slot (see
// evLoop.handOff): c has the slot's answer to read, from its beginning.
func (fc *fastConn) resume(ex exchange, c *upConn) bool {
	err := fc.readAnswerHead(c, ex)
	if err != nil {
		fc.unwatch()
		c.Close()
		if fc.gone.Load() || isWriteErr(err) { // the client went away
			fc.logEntry(ex, statusClientGone, 0)
			return false
		}
		return fc.failed(ex, err, true)
	}
	return fc.relay(ex, c)
}

// readAnswerHead reads the head of the slot's answer on c, under the watch
// of the client, within the slot read timeout.
func (fc *fastConn) readAnswerHead(c *upConn, ex exchange) error {
	fc.watchFor(c)
	c.SetReadDeadline(time.Now().Add(fc.f.lim.SlotReadTimeout))
	err := readResponseHead(c.br, ex.head, &fc.resp, fc.bw)
	c.SetReadDeadline(time.Time{})
	if fc.gone.Load() { // the watcher broke the connection off meanwhile: keep it broken
		c.SetDeadline(time.Unix(1, 0))
	}
	return err
}

// failed answers 502 for a slot that did not answer (504 when it did not
// in time); keep says the client's connection is still in step (its
// request body was read).
func (fc *fastConn) failed(ex exchange, err error, keep bool) bool {
	fc.f.upstreamError(ex, err)
	keep = keep && !fc.f.isClosing()
	status := http.StatusBadGateway
	if isTimeout(err) {
		status = http.StatusGatewayTimeout
	}
	fc.bw.Write(appendGatewayError(fc.out[:0], status, ex.slot, ex.id, keep))
	fc.bw.Flush()
	fc.logEntry(ex, status, 0)
	return keep
}

// relay sends the answer whose head is in fc.resp to the client, the body
// read from c, and gives c back to the pool when it may serve again.
func (fc *fastConn) relay(ex exchange, c *upConn) bool {
	closing := fc.f.isClosing()
	r := &fc.resp
	keep := !closing && r.framing != closeBody
	fc.bw.Write(r.out)
	if !r.hasID {
		fc.bw.WriteString("X-Request-Id: ")
		fc.bw.WriteString(ex.id)
		fc.bw.Write(crlf)
	}
	if !keep {
		fc.bw.WriteString("Connection: close\r\n")
	}
	fc.bw.Write(crlf)
	var (
		n   int64
		err error
	)
	switch r.framing {
	case noBody:
		err = flush(fc.bw)
	case lengthBody, closeBody:
		n, err = pump(fc.bw, c.br, r.length)
		if err == nil {
			err = flush(fc.bw)
		}
	case chunkedBody:
		n, err = copyChunked(fc.bw, c.br)
	}
	fc.unwatch()
	if err != nil || fc.gone.Load() { // the watcher may have broken off the slot's connection: not for reuse
		if err != nil && !isWriteErr(err) && !fc.gone.Load() { // not the client going away: the slot broke off
			fc.f.upstreamError(ex, err)
			fc.bw.Flush() // what came before; the close then shows the answer is incomplete
		}
		c.Close()
		fc.logEntry(ex, r.status, n)
		return false
	}
	if r.reuse && c.br.Buffered() == 0 { // more than the answer: out of step, never to be read as the next one
		ex.up.pool.put(c)
	} else {
		c.Close()
	}
	fc.logEntry(ex, r.status, n)
	return keep
}

// statusClientGone is logged for a request whose client went away before
// its answer was complete (nginx's 499).
const statusClientGone = 499

// watchAfter is how long a request runs before the proxy watches its
// client's connection: quick answers never pay for the watch.
const watchAfter = 100 * time.Millisecond

// watchFor arms the watch over the request sent on the slot connection up.
// Until unwatch, the caller must not read from the client.
func (fc *fastConn) watchFor(up *upConn) {
	fc.up.Store(up)
	fc.gone.Store(false)
	fc.watching = true
	if fc.watch == nil {
		fc.watch = time.AfterFunc(watchAfter, fc.watchClient)
	} else {
		fc.watch.Reset(watchAfter)
	}
}

// watchClient waits for the client to send something or go away, as
// net/http's background read does. A client that closes its connection
// while its request runs takes the request with it: the slot's connection
// is broken off, so a long poll or a slow report does not run on for
// nobody.
func (fc *fastConn) watchClient() {
	defer func() { fc.watchDone <- struct{}{} }()
	_, err := fc.br.Peek(1)
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		return // the next request is already arriving (pipelined), or unwatch stopped the watch
	}
	fc.gone.Store(true)
	if up := fc.up.Load(); up != nil {
		up.SetDeadline(time.Unix(1, 0))
	}
}

// unwatch ends the watch, waiting for a watcher that already runs.
func (fc *fastConn) unwatch() {
	if !fc.watching {
		return
	}
	fc.watching = false
	fc.up.Store(nil)
	if fc.watch.Stop() {
		return // it never started
	}
	fc.c.SetReadDeadline(time.Unix(1, 0)) // wakes the watcher's read
	<-fc.watchDone
	fc.c.SetReadDeadline(time.Time{})
}

// appendRequest writes the head sent to the slot: the client's request
// line and fields, then the fields the proxy sets.
func appendRequest(b []byte, h *reqHead, ip, id string) []byte {
	b = append(b, h.method...)
	b = append(b, ' ')
	b = append(b, h.target...)
	b = append(b, " HTTP/1.1\r\n"...)
	for _, l := range h.keep {
		b = append(append(b, l...), crlf...)
	}
	if h.id == nil {
		b = append(append(append(b, "X-Request-Id: "...), id...), crlf...)
	}
	b = append(append(append(b, "X-Forwarded-For: "...), ip...), crlf...)
	b = append(append(append(b, "X-Forwarded-Host: "...), h.host...), crlf...)
	return append(b, "X-Forwarded-Proto: http\r\n\r\n"...)
}

// appendGatewayError writes the 502 or 504 answer as the ReverseProxy's
// error handler does.
func appendGatewayError(b []byte, status int, slot provider.Slot, id string, keep bool) []byte {
	body := "bad gateway: slot " + string(slot) + " is not answering\n"
	line := "HTTP/1.1 502 Bad Gateway\r\n"
	if status == http.StatusGatewayTimeout {
		body = "gateway timeout: slot " + string(slot) + " did not answer in time\n"
		line = "HTTP/1.1 504 Gateway Timeout\r\n"
	}
	b = append(b, line...)
	b = append(b, "Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nX-Request-Id: "...)
	b = append(b, id...)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	if !keep {
		b = append(b, "\r\nConnection: close"...)
	}
	b = append(b, "\r\n\r\n"...)
	return append(b, body...)
}

func (fc *fastConn) logEntry(ex exchange, status int, n int64) {
	fc.f.logExchange(ex, fc.remote, status, n)
}

// logExchange writes the access log line of a request, when there is a log.
func (f *fastServer) logExchange(ex exchange, remote string, status int, n int64) {
	if f.log == nil {
		return
	}
	f.log.write(accessEntry{Time: ex.start.UTC(), ID: ex.id, Remote: remote, Method: ex.method, Path: ex.path,
		Status: status, Bytes: n, Slot: ex.slot, DurationMS: float64(time.Since(ex.start).Microseconds()) / 1000})
}

// upstreamError logs a slot that failed a request.
func (f *fastServer) upstreamError(ex exchange, err error) {
	f.s.Log.Warn("upstream error", "slot", ex.slot, "url", ex.up.name, "error", err)
}

// requestPath is the target's path, unescaped as net/http gives it.
func requestPath(target []byte) string {
	p := target
	for i, c := range target {
		if c == '?' {
			p = target[:i]
			break
		}
	}
	s := string(p)
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// handoffListener gives net/http the connections the fast path hands over.
type handoffListener struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

// give hands c to net/http; false when it has stopped.
func (l *handoffListener) give(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}

// handoffConn is the client's connection with the bytes the fast path
// already read in front. It leaves the gate when net/http closes it.
type handoffConn struct {
	net.Conn
	r    io.Reader
	g    *gate
	once sync.Once
}

func (c *handoffConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *handoffConn) Close() error {
	c.once.Do(c.g.leave)
	return c.Conn.Close()
}

// bodyClock is under a client connection's buffer: while a request body is
// read (on), every read may wait at most d for bytes, so a body that makes
// no progress for the body timeout ends the request.
type bodyClock struct {
	r io.Reader
	c net.Conn
	d time.Duration
}

func (b *bodyClock) on(d time.Duration) { b.d = d }

func (b *bodyClock) off() {
	if b.d > 0 {
		b.d = 0
		b.c.SetReadDeadline(time.Time{})
	}
}

func (b *bodyClock) Read(p []byte) (int, error) {
	if b.d > 0 {
		b.c.SetReadDeadline(time.Now().Add(b.d))
	}
	return b.r.Read(p)
}
