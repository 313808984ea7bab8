package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// directTransport forwards plain HTTP/1.1 requests to one slot on pooled
// keep-alive connections, writing the request and reading the response in
// the calling goroutine. net/http's Transport hands every request to two
// goroutines per connection; on a busy machine those hand-offs cost more
// than the forwarding itself. Anything unusual (upgrades, https) goes to
// fallback.
type directTransport struct {
	addr     string
	fallback http.RoundTripper
	dial     func(ctx context.Context, network, addr string) (net.Conn, error)
	mu       sync.Mutex
	idle     []*upConn // the most recently used last
	maxIdle  int
	// idleTimeout closes a pooled connection unused for that long: below
	// the keep-alive timeouts of common application servers, so that the
	// proxy lets go of a connection before the slot does.
	idleTimeout time.Duration
	// readTimeout bounds the wait for an answer head (0: none).
	readTimeout time.Duration
	now         func() time.Time
	// retired: its slot is served from another URL now (backend.retire);
	// no connection goes back to the pool
	retired atomic.Bool
}

// DefaultSlotIdleTimeout is how long a connection to a slot waits in the
// pool: below Node's 5 s keep-alive, above gunicorn's 2 s only where the
// slot is busy enough to reuse it sooner.
const DefaultSlotIdleTimeout = 4 * time.Second

type upConn struct {
	net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	head   *headBudget // under br
	wrote  *writeCount // under bw
	idleAt time.Time   // when it went back to the pool
}

// newUpConn reads nc through a buffer, what the slot already sent (pre)
// first.
func newUpConn(nc net.Conn, pre []byte) *upConn {
	raw := rawReadWriter(nc)
	var r io.Reader = raw
	if len(pre) > 0 {
		r = io.MultiReader(bytes.NewReader(pre), raw)
	}
	hb, wc := &headBudget{r: r, left: -1}, &writeCount{w: raw}
	// separate raw readers and writers: a read and a write may overlap
	return &upConn{Conn: nc, br: bufio.NewReaderSize(hb, 16<<10), bw: bufio.NewWriterSize(wc, 16<<10), head: hb, wrote: wc}
}

// writeCount counts the bytes written to a slot connection since it was
// taken from the pool: a request that failed before its first byte
// reached the slot may be sent again, whatever its method.
type writeCount struct {
	w io.Writer
	n int64
}

func (c *writeCount) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// unsent says whether a request on c failed before any of it was written.
func (c *upConn) unsent() bool { return c.wrote.n == 0 }

// headBudget bounds what http.ReadResponse reads of an answer's head, which
// has no limit of its own: armed, it reads at most left bytes; left < 0 is
// no limit. The buffer above it may hold the start of the body too, so the
// budget is maxAnswerHead plus the buffer's size.
type headBudget struct {
	r    io.Reader
	left int64
}

func (b *headBudget) Read(p []byte) (int, error) {
	if b.left < 0 {
		return b.r.Read(p)
	}
	if b.left == 0 {
		return 0, fmt.Errorf("%w: head longer than %d bytes", errBadResponse, maxAnswerHead)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

func newDirectTransport(addr string, fallback http.RoundTripper) *directTransport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &directTransport{addr: addr, fallback: fallback, dial: d.DialContext, maxIdle: 1024,
		idleTimeout: DefaultSlotIdleTimeout, now: time.Now}
}

func (t *directTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" || req.Header.Get("Upgrade") != "" {
		return t.fallback.RoundTrip(req)
	}
	for attempt := 0; ; attempt++ {
		c, reused, err := t.get(req.Context())
		if err != nil {
			return nil, err
		}
		resp, err := t.exchange(c, req)
		if err == nil {
			return resp, nil
		}
		c.Close()
		// A pooled connection the slot closed meanwhile fails before any
		// answer: send again on a fresh one when that is safe, a request
		// of which nothing was written whatever its method.
		noBody := req.Body == nil || req.Body == http.NoBody
		if !reused || attempt > 0 || !(replayable(req) || c.unsent() && noBody) || req.Context().Err() != nil {
			return nil, err
		}
	}
}

func replayable(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return req.Body == nil || req.Body == http.NoBody
	}
	return false
}

// get returns a pooled connection that is still fit for a request, or a
// new one. A pooled connection is not fit when it waited longer than the
// idle timeout or when the slot spoke on it while it was idle: bytes no
// request asked for (out of step, and never to be read as the next
// user's answer) or the end of the connection.
func (t *directTransport) get(ctx context.Context) (*upConn, bool, error) {
	for {
		t.mu.Lock()
		n := len(t.idle)
		if n == 0 {
			t.mu.Unlock()
			break
		}
		c := t.idle[n-1]
		t.idle = t.idle[:n-1]
		c.wrote.n = 0
		if t.expired(c) { // the others waited longer still
			old := t.idle
			t.idle = nil
			t.mu.Unlock()
			c.Close()
			for _, o := range old {
				o.Close()
			}
			break
		}
		t.mu.Unlock()
		if quiet(c) {
			return c, true, nil
		}
		c.Close()
	}
	nc, err := t.dial(ctx, "tcp", t.addr)
	if err != nil {
		return nil, false, err
	}
	return newUpConn(nc, nil), false, nil
}

func (t *directTransport) expired(c *upConn) bool { return t.idleSince(c.idleAt) }

// idleSince says whether a connection pooled at idleAt waited past the
// idle timeout: the one rule of the goroutine path and the event loops.
func (t *directTransport) idleSince(idleAt time.Time) bool {
	return t.idleTimeout > 0 && t.now().Sub(idleAt) >= t.idleTimeout
}

func (t *directTransport) put(c *upConn) {
	c.idleAt = t.now()
	t.mu.Lock()
	// the oldest first: those past the idle timeout go now
	drop := 0
	for drop < len(t.idle) && t.expired(t.idle[drop]) {
		t.idle[drop].Close()
		drop++
	}
	t.idle = append(t.idle[:0], t.idle[drop:]...)
	full := len(t.idle) >= t.maxIdle || t.retired.Load() // retired: the slot went to another URL
	if !full {
		t.idle = append(t.idle, c)
	}
	t.mu.Unlock()
	if full {
		c.Close()
	}
}

// retire closes the pooled connections, and from now on those that come
// back: the slot is served from another URL.
func (t *directTransport) retire() {
	t.mu.Lock()
	t.retired.Store(true)
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
}

func (t *directTransport) isRetired() bool { return t.retired.Load() }

// watch closes, once a second until ctx ends, the pooled connections past
// the idle timeout and those on which the slot spoke or which it closed
// while they were idle: without traffic nothing else would, and they would
// hold a descriptor each (and the slot's side in CLOSE_WAIT) forever.
func (t *directTransport) watch(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			t.sweep()
		}
	}
}

func (t *directTransport) sweep() {
	t.mu.Lock()
	keep := t.idle[:0]
	var drop []*upConn
	for _, c := range t.idle {
		if t.expired(c) || !quiet(c) {
			drop = append(drop, c)
			continue
		}
		keep = append(keep, c)
	}
	clear(t.idle[len(keep):])
	t.idle = keep
	t.mu.Unlock()
	for _, c := range drop {
		c.Close()
	}
}

// quiet reports whether an idle connection has nothing to read: no bytes
// and no end. It asks the kernel without waiting (peek.go).
func quiet(c *upConn) bool {
	if c.br.Buffered() > 0 {
		return false
	}
	return peekQuiet(c.Conn)
}

// exchange writes req and reads its response head; the body is read by the
// caller through upBody, which gives the connection back at its end.
func (t *directTransport) exchange(c *upConn, req *http.Request) (*http.Response, error) {
	// a client that goes away unblocks the reads and writes below
	stop := context.AfterFunc(req.Context(), func() { c.SetDeadline(time.Unix(1, 0)) })
	if err := req.Write(c.bw); err != nil {
		stop()
		return nil, err
	}
	if err := c.bw.Flush(); err != nil {
		stop()
		return nil, err
	}
	c.head.left = maxAnswerHead + int64(c.br.Size()-c.br.Buffered())
	if t.readTimeout > 0 {
		c.SetReadDeadline(time.Now().Add(t.readTimeout))
	}
	resp, err := readResponse(c.br, req)
	c.head.left = -1
	if t.readTimeout > 0 {
		c.SetReadDeadline(time.Time{})
		if req.Context().Err() != nil { // stop's deadline may have come first: keep it
			c.SetDeadline(time.Unix(1, 0))
		}
	}
	if err != nil {
		stop()
		return nil, err
	}
	resp.Body = &upBody{r: resp.Body, c: c, t: t, stop: stop, keep: !resp.Close}
	return resp, nil
}

// readResponse reads the slot's answer to req. Informational answers (103
// Early Hints, say) go to the request's Got1xxResponse trace hook, through
// which httputil.ReverseProxy passes them on to the client, without their
// hop-by-hop fields; but for 100 Continue, which answers the proxy's own
// request: net/http's server has already sent the client its own.
func readResponse(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	trace := httptrace.ContextClientTrace(req.Context())
	for n := 0; ; n++ {
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
		if n == maxInformational {
			return nil, fmt.Errorf("%w: more than %d informational answers", errBadResponse, maxInformational)
		}
		if trace != nil && trace.Got1xxResponse != nil && resp.StatusCode != http.StatusContinue {
			h := textproto.MIMEHeader(resp.Header)
			stripInformational(h)
			if err := trace.Got1xxResponse(resp.StatusCode, h); err != nil {
				return nil, err
			}
		}
	}
}

// stripInformational removes an informational answer's hop-by-hop and
// framing fields, which are not the client's.
func stripInformational(h textproto.MIMEHeader) {
	for _, f := range h["Connection"] {
		for _, name := range strings.Split(f, ",") {
			h.Del(strings.TrimSpace(name))
		}
	}
	for _, name := range slices.Concat([]string{"connection"}, responseHopFields, framingFields) {
		h.Del(name)
	}
}

// stockTransport is Go's http.Transport with one repair for the standard
// path: httputil.ReverseProxy passes an informational answer's fields on
// as they come, hop-by-hop ones included; a trace hook of our own, which
// runs before the proxy's, removes them first.
type stockTransport struct{ *http.Transport }

func strip1xx(_ int, h textproto.MIMEHeader) error {
	stripInformational(h)
	return nil
}

func (t stockTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	// WithClientTrace composes into the trace it is given: a new one each time
	trace := &httptrace.ClientTrace{Got1xxResponse: strip1xx}
	return t.Transport.RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
}

// upBody returns the connection to the pool once the body was read to its
// end, and closes it otherwise.
type upBody struct {
	r    io.ReadCloser
	c    *upConn
	t    *directTransport
	stop func() bool
	keep bool
	eof  bool
	once sync.Once
}

func (b *upBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if errors.Is(err, io.EOF) {
		b.eof = true
	}
	return n, err
}

func (b *upBody) Close() error {
	b.once.Do(func() {
		b.r.Close()
		if b.stop() && b.eof && b.keep && b.c.br.Buffered() == 0 { // more than the answer: out of step
			b.t.put(b.c)
			return
		}
		b.c.Close()
	})
	return nil
}
