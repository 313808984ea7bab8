//go:build linux

package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/deployctl/deployctl/pkg/provider"
)

// evLoop is one event loop of the fast path: an epoll set, waited on by one
// goroutine that keeps its P while events come (see wait), which serves
// the plain requests of its client connections from start to end, reading
// and writing non-blocking sockets as they become ready. A goroutine per connection waits in Go's netpoller, and each of
// its two waits per request (the client's request, the slot's answer)
// costs a wake-up through the scheduler: the netpoller's thread, a run
// queue, often a second thread. Under load on a small machine those
// wake-ups, not the proxy's own work, were what kept its throughput under
// nginx's (docs/benchmarks.md "Proxy"). Here the thread that waits is the
// one that works, as in nginx.
//
// The loop takes what is common: a plain request head (parseRequestHead),
// a body of known length that fits evMaxIn, and an answer with a
// Content-Length, in chunks, or without a body. At anything else it hands
// the connection to a goroutine of the fast path (fastConn), with the bytes
// already read: before the request, or in its middle with the slot's
// connection and the answer's beginning (informational answers, a body
// delimited by the slot closing, a malformed head). That goroutine hands on to
// net/http what the fast path does not take either.
type evLoop struct {
	f       *fastServer
	ep, efd int

	mu    sync.Mutex
	tasks []func() // posted by other goroutines; efd wakes the loop
	dead  bool

	fds     []evFD // by file descriptor
	conns   int    // client connections of this loop
	dialing int    // dials in flight
	idle    map[provider.Slot][]*evUp
	closing bool
	hot     bool // events came at the last wait
	hr      bytes.Reader
	hbr     *bufio.Reader
}

type evFD struct {
	c *evConn
	u *evUp
}

type evState int

const (
	evIdle evState = iota // between requests: reading the next head
	evSlot                // connecting to the slot, sending the request, waiting for the answer's head
	evBody                // relaying the answer's body
)

// evConn is a client connection on an event loop.
type evConn struct {
	fd                 int
	remote, ip         string
	in                 []byte // read from the client, not yet forwarded
	out                []byte // to the client, written from outOff on
	outOff             int
	readable, writable bool // readiness not yet used up (edge-triggered)
	eof                bool // the client closed its side, or its connection broke
	closed             bool
	closeAfter         bool      // close once out is written
	headSince          time.Time // the first byte of the head being read
	idleSince          time.Time // since when it waits for a request
	lastRead           time.Time // the last bytes from the client
	served             bool      // it had a request: the keep-alive timeout applies
	bodyWait           bool      // a head was read and its body is on its way
	st                 evState

	// the request being served
	ex       exchange
	req      reqHead
	reqOut   []byte // the request as sent to the slot
	replay   bool   // may be sent again on a fresh connection
	attempt  int
	dialSeq  int // the dial the request waits for
	up       *evUp
	resp     respHead
	left     int64 // body bytes still to relay (of the current chunk when chunked)
	chunk    chunkStep
	trailers trailers
	n        int64 // body bytes relayed
	keep     bool
}

// evUp is a connection to a slot, idle in the loop's pool or serving c.
type evUp struct {
	fd                 int
	slot               provider.Slot
	t                  *directTransport // the pool of the backend it was dialed for
	in                 []byte
	sent               int // bytes of the request written
	reused             bool
	readable, writable bool
	closed             bool
	c                  *evConn
	idleAt             time.Time // when it went back to the pool
}

const (
	evMaxHead = 16 << 10 // as the goroutine path's buffer: a longer head goes to net/http
	evMaxIn   = 64 << 10 // a request with a longer body is streamed by a goroutine
	evMaxUp   = 64 << 10 // bytes read from a slot at a time
	epollET   = 1 << 31
	evEvents  = syscall.EPOLLIN | syscall.EPOLLOUT | syscall.EPOLLRDHUP | epollET
)

// evLoopsAvailable says whether this build has event loops.
const evLoopsAvailable = true

func newEvLoop(f *fastServer) (*evLoop, error) {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	r, _, e := syscall.RawSyscall(syscall.SYS_EVENTFD2, 0, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if e != 0 {
		syscall.Close(ep)
		return nil, os.NewSyscallError("eventfd2", e)
	}
	l := &evLoop{f: f, ep: ep, efd: int(r), idle: map[provider.Slot][]*evUp{}, hbr: bufio.NewReaderSize(nil, evMaxHead)}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(l.efd)}
	if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, l.efd, &ev); err != nil {
		syscall.Close(ep)
		syscall.Close(l.efd)
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	return l, nil
}

// post runs fn on the loop; false when the loop has ended.
func (l *evLoop) post(fn func()) bool {
	l.mu.Lock()
	if l.dead {
		l.mu.Unlock()
		return false
	}
	l.tasks = append(l.tasks, fn)
	l.mu.Unlock()
	one := uint64(1)
	syscall.RawSyscall(syscall.SYS_WRITE, uintptr(l.efd), uintptr(unsafe.Pointer(&one)), 8)
	return true
}

func (l *evLoop) runTasks() {
	var b [8]byte
	syscall.RawSyscall(syscall.SYS_READ, uintptr(l.efd), uintptr(unsafe.Pointer(&b[0])), 8)
	l.mu.Lock()
	tasks := l.tasks
	l.tasks = nil
	l.mu.Unlock()
	for _, t := range tasks {
		t()
	}
}

// run serves until the proxy stops and the loop's connections are gone.
func (l *evLoop) run() {
	events := make([]syscall.EpollEvent, 256)
	sweep := time.Now()
	for {
		n, err := l.wait(events)
		if err != nil && err != syscall.EINTR {
			l.f.s.Log.Error("event loop: epoll_wait failed", "error", err)
			time.Sleep(10 * time.Millisecond)
		}
		for i := 0; i < n; i++ {
			l.event(int(events[i].Fd), events[i].Events)
		}
		if now := time.Now(); now.Sub(sweep) >= time.Second {
			sweep = now
			l.sweep(now)
		}
		if l.closing && l.conns == 0 && l.dialing == 0 && l.end() {
			return
		}
	}
}

// wait waits for events. While they come (hot), it waits in a raw system
// call, which keeps the loop's P: an ordinary (blocking) one goes through
// the runtime's syscall bookkeeping, which wakes its monitor thread
// (sysmon) and lets it take the P away, and under load that was more
// thread wake-ups than requests. startLoops adds a P for each loop, so the
// rest of the proxy keeps its own; sysmon's preemption, every 10 ms at
// most, interrupts the wait (EINTR), as it does for the GC. After
// hotWait without events the loop waits the ordinary way, as an idle
// proxy should.
func (l *evLoop) wait(events []syscall.EpollEvent) (int, error) {
	if l.hot {
		r, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(l.ep), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), hotWait, 0, 0)
		switch {
		case e == syscall.EINTR:
			return 0, nil
		case e != 0:
			return 0, e
		case r > 0:
			return int(r), nil
		}
		l.hot = false
	}
	n, err := syscall.EpollWait(l.ep, events, 1000)
	l.hot = n > 0
	return n, err
}

// hotWait is how long, in milliseconds, a loop waits for events in a raw
// system call before it goes back to waiting the ordinary way.
const hotWait = 5

// end closes the loop unless a task came in meanwhile.
func (l *evLoop) end() bool {
	l.mu.Lock()
	if len(l.tasks) > 0 {
		l.mu.Unlock()
		return false
	}
	l.dead = true
	l.mu.Unlock()
	for _, us := range l.idle {
		for _, u := range us {
			l.closeUp(u)
		}
	}
	syscall.Close(l.ep)
	syscall.Close(l.efd)
	l.f.loopsWG.Done()
	return true
}

func (l *evLoop) event(fd int, ev uint32) {
	if fd == l.efd {
		l.runTasks()
		return
	}
	if fd >= len(l.fds) {
		return
	}
	in := ev&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0
	out := ev&(syscall.EPOLLOUT|syscall.EPOLLHUP|syscall.EPOLLERR) != 0
	switch e := l.fds[fd]; {
	case e.c != nil:
		e.c.readable = e.c.readable || in
		e.c.writable = e.c.writable || out
		l.drive(e.c)
	case e.u != nil:
		u := e.u
		u.readable = u.readable || in
		u.writable = u.writable || out
		if u.c != nil {
			l.drive(u.c)
		} else if u.readable {
			// an idle connection has nothing to say: the slot closed it,
			// or sent what nobody asked for
			if !peekQuietFD(u.fd) {
				l.closeUp(u)
			} else {
				u.readable = false
			}
		}
	}
}

func (l *evLoop) track(fd int, e evFD) {
	for fd >= len(l.fds) {
		l.fds = append(l.fds, evFD{})
	}
	l.fds[fd] = e
}

func (l *evLoop) register(fd int, e evFD) error {
	l.track(fd, e)
	ev := syscall.EpollEvent{Events: evEvents, Fd: int32(fd)}
	if err := syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		l.fds[fd] = evFD{}
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// adopt takes a client connection the accept loop gave it.
func (l *evLoop) adopt(fd int, remote string) {
	c := &evConn{fd: fd, remote: remote, ip: remote, in: make([]byte, 0, 4<<10), idleSince: time.Now()}
	if host, _, err := net.SplitHostPort(remote); err == nil {
		c.ip = host
	}
	l.conns++
	if err := l.register(fd, evFD{c: c}); err != nil || l.closing {
		l.closeConn(c)
		return
	}
}

func (l *evLoop) closeConn(c *evConn) {
	if c.closed {
		return
	}
	c.closed = true
	if c.up != nil {
		l.closeUp(c.up)
		c.up = nil
	}
	l.fds[c.fd] = evFD{}
	syscall.Close(c.fd)
	l.conns--
	l.f.gate.leave()
	l.f.wg.Done()
}

func (l *evLoop) closeUp(u *evUp) {
	if u.closed {
		return
	}
	u.closed = true
	u.c = nil
	l.fds[u.fd] = evFD{}
	syscall.Close(u.fd)
}

// shutdown stops taking requests: idle connections close now, the others
// after their answer. hard closes everything.
func (l *evLoop) shutdown(hard bool) {
	l.closing = true
	for _, e := range l.fds {
		if c := e.c; c != nil && (hard || c.st == evIdle && c.outOff == len(c.out)) {
			l.closeConn(c)
		}
	}
	for slot, us := range l.idle {
		for _, u := range us {
			l.closeUp(u)
		}
		delete(l.idle, slot)
	}
}

// sweep applies the timeouts (Limits): it closes connections idle past the
// header or keep-alive timeout, slow to send a head or a body, answers 504
// for requests whose slot did not answer in time, breaks off the requests
// of clients that went away, and closes pooled slot connections past the
// idle timeout.
func (l *evLoop) sweep(now time.Time) {
	lim := &l.f.lim
	for _, e := range l.fds {
		c := e.c
		if c == nil || c.closed {
			continue
		}
		switch c.st {
		case evIdle:
			wait := lim.HeaderTimeout
			if c.served {
				wait = lim.KeepAliveTimeout
			}
			switch {
			case !c.headSince.IsZero() && now.Sub(c.headSince) > lim.HeaderTimeout,
				c.bodyWait && now.Sub(c.lastRead) > lim.BodyTimeout,
				c.headSince.IsZero() && !c.bodyWait && len(c.in) == 0 && now.Sub(c.idleSince) > wait:
				l.closeConn(c)
			}
		case evSlot:
			switch {
			case c.eof && now.Sub(c.ex.start) >= watchAfter:
				l.gone(c)
			case now.Sub(c.ex.start) > lim.SlotReadTimeout:
				l.slotTimeout(c)
			}
		}
	}
	for slot, us := range l.idle {
		keep := us[:0]
		for _, u := range us {
			if u.closed || u.t.isRetired() || u.t.idleSince(u.idleAt) {
				l.closeUp(u)
				continue
			}
			keep = append(keep, u)
		}
		l.idle[slot] = keep
	}
}

// slotTimeout answers 504 for a request whose slot did not answer within
// the slot read timeout, and closes the slot's connection (or forgets the
// dial on its way).
func (l *evLoop) slotTimeout(c *evConn) {
	if c.up != nil {
		l.closeUp(c.up)
		c.up = nil
	}
	c.dialSeq++
	l.gatewayError(c, http.StatusGatewayTimeout, fmt.Errorf("no answer within %s", l.f.lim.SlotReadTimeout))
	l.drive(c)
}

// drive moves c's request on as far as its sockets allow.
func (l *evLoop) drive(c *evConn) {
	for !c.closed {
		var progress bool
		switch c.st {
		case evIdle:
			progress = l.idleStep(c)
		case evSlot:
			progress = l.upStep(c)
		case evBody:
			progress = l.bodyStep(c)
		}
		if !progress {
			return
		}
	}
}

func (l *evLoop) idleStep(c *evConn) bool {
	if c.outOff < len(c.out) {
		return l.writeClient(c)
	}
	if c.closeAfter || l.closing || c.eof && len(c.in) == 0 {
		l.closeConn(c)
		return false
	}
	end := headEnd(c.in)
	if end == 0 {
		switch {
		case len(c.in) >= evMaxHead:
			l.handOff(c, nil)
			return false
		case c.eof:
			l.closeConn(c)
			return false
		case len(c.in) > 0 && c.headSince.IsZero():
			c.headSince = time.Now()
		}
		return l.readClient(c)
	}
	d, rt := l.f.s.current(), l.f.s.routes()
	if end < 0 || !parseRequestHead(c.in[:end], &c.req) || l.f.s.Maintenance != nil && d.Maintenance.On || !rt.fast {
		l.handOff(c, nil)
		return false
	}
	c.headSince = time.Time{}
	if total := int64(end) + c.req.length; total > int64(len(c.in)) {
		switch {
		case total > evMaxIn:
			l.handOff(c, nil)
			return false
		case c.eof:
			l.closeConn(c)
			return false
		}
		c.bodyWait = true
		return l.readClient(c)
	}
	c.bodyWait, c.served = false, true
	l.begin(c, d, rt, end)
	return true
}

// begin starts the request whose head (end bytes) and body are in c.in.
func (l *evLoop) begin(c *evConn, d *Doc, rt *routes, end int) {
	h := &c.req
	c.ex, c.replay = l.f.newExchange(h, d, rt)
	c.reqOut = appendRequest(c.reqOut[:0], h, c.ip, c.ex.id)
	total := end + int(h.length)
	c.reqOut = append(c.reqOut, c.in[end:total]...)
	c.in = c.in[:copy(c.in, c.in[total:])]
	l.f.s.fastServed.Add(1)
	l.f.s.loopServed.Add(1)
	c.st, c.attempt, c.n = evSlot, 0, 0
	l.attach(c)
}

// attach gives c a connection to its slot's backend: an idle one, or a
// new one.
func (l *evLoop) attach(c *evConn) {
	us := l.idle[c.ex.slot]
	t := c.ex.up.pool
	for len(us) > 0 {
		u := us[len(us)-1]
		us = us[:len(us)-1]
		if u.closed {
			continue
		}
		if u.t != t || t.idleSince(u.idleAt) {
			// to the slot's old URL (see backend), or
			// past the idle timeout, as on the other paths
			l.closeUp(u)
			continue
		}
		l.idle[c.ex.slot] = us
		u.c, u.reused, u.sent, u.in = c, true, 0, u.in[:0]
		c.up = u
		return
	}
	l.idle[c.ex.slot] = us
	l.dial(c)
}

// dial connects to c's slot in a goroutine (name resolution and the
// dialer's timeout as on the other paths) and gives the connection to the
// loop.
func (l *evLoop) dial(c *evConn) {
	c.dialSeq++
	seq, slot := c.dialSeq, c.ex.slot
	t := c.ex.up.pool
	l.dialing++
	go func() {
		fd := -1
		nc, err := t.dial(context.Background(), "tcp", t.addr)
		if err == nil {
			fd, err = takeFD(nc)
		}
		if !l.post(func() { l.dialed(c, seq, slot, t, fd, err) }) && fd >= 0 {
			syscall.Close(fd)
		}
	}()
}

func (l *evLoop) dialed(c *evConn, seq int, slot provider.Slot, t *directTransport, fd int, err error) {
	l.dialing--
	var u *evUp
	if err == nil {
		u = &evUp{fd: fd, slot: slot, t: t, in: make([]byte, 0, 4<<10), writable: true}
		if err = l.register(fd, evFD{u: u}); err != nil {
			syscall.Close(fd)
			u = nil
		}
	}
	if c.closed || c.st != evSlot || c.up != nil || c.dialSeq != seq {
		if u != nil { // the client went away meanwhile: keep it for the next
			l.pool(u)
		}
		return
	}
	if err != nil {
		l.gatewayError(c, http.StatusBadGateway, err)
	} else {
		u.c = c
		c.up = u
	}
	l.drive(c)
}

func (l *evLoop) pool(u *evUp) {
	if l.closing || len(l.idle[u.slot]) >= 1024 || u.t.isRetired() { // retired: the slot went to another URL
		l.closeUp(u)
		return
	}
	u.c = nil
	// Edge-triggered: what came with the answer's last bytes (the slot's
	// close, or more than the answer) raises no new event. Look now.
	if u.readable {
		if !peekQuietFD(u.fd) {
			l.closeUp(u)
			return
		}
		u.readable = false
	}
	u.idleAt = u.t.now()
	l.idle[u.slot] = append(l.idle[u.slot], u)
}

// upStep sends the request and reads the head of the answer, watching the
// client: one that goes away takes its request with it.
func (l *evLoop) upStep(c *evConn) bool {
	if c.readable && l.readClient(c) && c.eof && time.Since(c.ex.start) >= watchAfter {
		l.gone(c)
		return false
	}
	u := c.up
	if u == nil {
		return false // the dial is on its way
	}
	if u.sent < len(c.reqOut) {
		if !u.writable {
			return false
		}
		n, e := rawWrite(u.fd, c.reqOut[u.sent:])
		switch e {
		case 0:
			u.sent += n
			return true
		case syscall.EAGAIN:
			u.writable = false
			return false
		}
		return l.upFailed(c, e)
	}
	if !u.readable {
		return false
	}
	if len(u.in) == cap(u.in) && !grow(&u.in, evMaxUp) {
		l.handOff(c, u) // a head longer than net/http would take: it answers 502
		return false
	}
	n, e := rawRead(u.fd, u.in[len(u.in):cap(u.in)])
	switch {
	case e == syscall.EAGAIN:
		u.readable = false
		return false
	case e != 0:
		return l.upFailed(c, e)
	case n == 0:
		return l.upFailed(c, errors.New("connection closed before the answer"))
	}
	u.in = u.in[:len(u.in)+n]
	end := headEnd(u.in)
	if end == 0 {
		return true
	}
	if end < 0 || len(u.in) > 9 && u.in[9] == '1' { // bare LFs, or informational answers first
		l.handOff(c, u)
		return false
	}
	l.hr.Reset(u.in[:end])
	l.hbr.Reset(&l.hr)
	r := &c.resp
	if err := readResponseHead(l.hbr, c.ex.head, r, nil); err != nil || r.framing == closeBody {
		l.handOff(c, u)
		return false
	}
	c.keep = !l.closing
	c.out = append(c.out[:0], r.out...)
	c.outOff = 0
	if !r.hasID {
		c.out = append(append(append(c.out, "X-Request-Id: "...), c.ex.id...), crlf...)
	}
	if !c.keep {
		c.out = append(c.out, "Connection: close\r\n"...)
	}
	c.out = append(c.out, crlf...)
	u.in = u.in[:copy(u.in, u.in[end:])]
	c.left, c.chunk = 0, chunkSize
	if r.framing == lengthBody {
		c.left = r.length
	}
	c.st = evBody
	return true
}

// gone breaks off the request of a client that went away. A client that
// closed its side of the connection at once gets a quick answer (within
// watchAfter), as on the goroutine path; sweep ends its request after.
func (l *evLoop) gone(c *evConn) {
	l.logEntry(c, statusClientGone, 0)
	l.closeConn(c)
}

// upFailed sends the request again on a fresh connection when the slot
// closed a pooled one before answering and that is safe, and answers 502
// otherwise.
func (l *evLoop) upFailed(c *evConn, err error) bool {
	u := c.up
	c.up = nil
	l.closeUp(u)
	// a request of which nothing reached the slot is sent again whatever
	// its method: the loops hold it whole
	if len(u.in) == 0 && u.reused && c.attempt == 0 && (c.replay || u.sent == 0) {
		c.attempt++
		l.dial(c)
		return false
	}
	l.gatewayError(c, http.StatusBadGateway, err)
	return true
}

// gatewayError answers 502 or 504 for c's request; the client's connection
// stays in step (the loops read a request whole before they send it).
func (l *evLoop) gatewayError(c *evConn, status int, err error) {
	l.f.upstreamError(c.ex, err)
	c.keep = !l.closing
	c.out = appendGatewayError(c.out[:0], status, c.ex.slot, c.ex.id, c.keep)
	c.outOff = 0
	l.logEntry(c, status, 0)
	c.st, c.closeAfter, c.idleSince = evIdle, !c.keep, time.Now()
}

// bodyStep relays the answer's body, no faster than the client takes it.
func (l *evLoop) bodyStep(c *evConn) bool {
	u := c.up
	done := false
	if c.resp.framing == chunkedBody {
		var err error
		if done, err = moveChunks(c); err != nil {
			l.cutShort(c, err)
			return false
		}
	} else {
		if n := min(int64(len(u.in)), c.left); n > 0 {
			c.out = append(c.out, u.in[:n]...)
			u.in = u.in[:copy(u.in, u.in[n:])]
			c.left -= n
			c.n += n
		}
		done = c.left == 0
	}
	if done {
		l.finish(c)
		return true
	}
	if c.outOff < len(c.out) {
		return l.writeClient(c)
	}
	if c.readable {
		l.readClient(c) // a pipelined request, or the client going away: seen once this answer is out
	}
	if !u.readable {
		return false
	}
	if cap(u.in) < evMaxUp {
		grow(&u.in, evMaxUp)
	}
	n, e := rawRead(u.fd, u.in[len(u.in):cap(u.in)])
	switch {
	case e == syscall.EAGAIN:
		u.readable = false
		return false
	case e != 0 || n == 0:
		l.cutShort(c, errors.New("answer cut short"))
		return false
	}
	u.in = u.in[:len(u.in)+n]
	return true
}

// cutShort ends an answer the slot broke off (or framed wrongly): the
// client gets what came before, then its connection closes, so that it
// sees the answer is incomplete.
func (l *evLoop) cutShort(c *evConn, err error) {
	l.f.upstreamError(c.ex, err)
	if c.outOff < len(c.out) { // what came before, as far as the socket takes it now
		rawWrite(c.fd, c.out[c.outOff:])
	}
	l.logEntry(c, c.resp.status, c.n)
	l.closeConn(c)
}

// chunkStep is where a chunked body stands.
type chunkStep int

const (
	chunkSize    chunkStep = iota // the size line of the next chunk
	chunkData                     // c.left bytes of data
	chunkEnd                      // the CRLF after the data
	chunkTrailer                  // trailer fields, up to the blank line
)

// moveChunks moves what the slot sent of a chunked body to the client,
// chunk by chunk, framed as copyChunked frames it; true at the body's end.
func moveChunks(c *evConn) (bool, error) {
	u := c.up
	b, i := u.in, 0
	defer func() { u.in = u.in[:copy(u.in, b[i:])] }()
	for {
		if c.chunk == chunkData {
			n := int(min(int64(len(b)-i), c.left))
			c.out = append(c.out, b[i:i+n]...)
			i += n
			c.left -= int64(n)
			c.n += int64(n)
			if c.left > 0 {
				return false, nil
			}
			c.chunk = chunkEnd
		}
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			if len(b)-i >= evMaxHead {
				return false, fmt.Errorf("%w: line longer than %d bytes", errBadResponse, evMaxHead)
			}
			return false, nil
		}
		line := b[i : i+j]
		i += j + 1
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		switch c.chunk {
		case chunkSize:
			n, err := chunkLine(line)
			if err != nil {
				return false, err
			}
			c.out = append(append(c.out, line...), crlf...)
			c.chunk, c.left = chunkData, n
			if n == 0 {
				c.chunk, c.trailers = chunkTrailer, trailers{}
			}
		case chunkEnd:
			if len(line) != 0 {
				return false, fmt.Errorf("%w: chunk not followed by CRLF", errBadResponse)
			}
			c.out = append(c.out, crlf...)
			c.chunk = chunkSize
		case chunkTrailer:
			if err := c.trailers.line(line); err != nil {
				return false, err
			}
			c.out = append(append(c.out, line...), crlf...)
			if len(line) == 0 {
				return true, nil
			}
		}
	}
}

// finish ends the request: the slot's connection goes back to the pool
// when it may serve again, and the client's connection reads the next.
func (l *evLoop) finish(c *evConn) {
	u := c.up
	c.up = nil
	if len(u.in) > 0 || !c.resp.reuse { // more than the answer: out of step
		l.closeUp(u)
	} else {
		l.pool(u)
	}
	l.logEntry(c, c.resp.status, c.n)
	c.st, c.closeAfter, c.idleSince = evIdle, !c.keep, time.Now()
}

func (l *evLoop) logEntry(c *evConn, status int, n int64) { l.f.logExchange(c.ex, c.remote, status, n) }

// readClient reads what the client sent; false when nothing came (or there
// is no room until the buffered request is served).
func (l *evLoop) readClient(c *evConn) bool {
	if len(c.in) == cap(c.in) && !grow(&c.in, evMaxIn) {
		return false
	}
	n, e := rawRead(c.fd, c.in[len(c.in):cap(c.in)])
	switch {
	case e == syscall.EAGAIN:
		c.readable = false
		return false
	case e != 0 || n == 0:
		c.eof, c.readable = true, false
		return true
	}
	c.in = c.in[:len(c.in)+n]
	c.lastRead = time.Now()
	return true
}

// writeClient writes out what is pending; false when the client cannot take
// more now (or its connection broke, which closes it).
func (l *evLoop) writeClient(c *evConn) bool {
	if !c.writable {
		return false
	}
	n, e := rawWrite(c.fd, c.out[c.outOff:])
	switch e {
	case 0:
		c.outOff += n
		if c.outOff == len(c.out) {
			c.out, c.outOff = c.out[:0], 0
		}
		return true
	case syscall.EAGAIN:
		c.writable = false
		return false
	}
	if c.st != evIdle {
		l.logEntry(c, c.resp.status, c.n)
	}
	l.closeConn(c)
	return false
}

// handOff gives c to a goroutine of the fast path (fastConn), with the
// bytes read so far; with u, in the middle of the request, whose answer the
// goroutine reads from u.
func (l *evLoop) handOff(c *evConn, u *evUp) {
	nc, err := l.release(c.fd)
	c.closed = true
	l.fds[c.fd] = evFD{}
	l.conns--
	defer l.f.wg.Done()
	var up *upConn
	if u != nil {
		c.up = nil
		unc, uerr := l.release(u.fd)
		u.closed = true
		l.fds[u.fd] = evFD{}
		if uerr == nil {
			up = newUpConn(unc, u.in)
		} else if err == nil {
			err = uerr
		}
	}
	if err != nil {
		l.f.s.Log.Warn("event loop: hand-off failed", "error", err)
		if nc != nil {
			nc.Close()
		}
		if up != nil {
			up.Close()
		}
		l.f.gate.leave()
		return
	}
	fc := newFastConn(l.f, nc, c.in)
	if !l.f.adopt(fc, u != nil) {
		nc.Close()
		if up != nil {
			up.Close()
		}
		l.f.gate.leave()
		return
	}
	if u == nil {
		go fc.serve(nil, nil)
		return
	}
	ex := c.ex
	go fc.serve(&ex, up)
}

// release takes fd out of the loop as a net.Conn.
func (l *evLoop) release(fd int) (net.Conn, error) {
	syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_DEL, fd, nil)
	f := os.NewFile(uintptr(fd), "")
	nc, err := net.FileConn(f) // a duplicate
	f.Close()
	return nc, err
}

// takeFD takes nc's socket out of Go's netpoller, for a loop.
func takeFD(nc net.Conn) (int, error) {
	defer nc.Close()
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1, errors.New("not a socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) {
		r, _, e := syscall.Syscall(syscall.SYS_FCNTL, s, syscall.F_DUPFD_CLOEXEC, 0)
		if e != 0 {
			derr = os.NewSyscallError("fcntl", e)
			return
		}
		fd = int(r)
	}); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, derr
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	return fd, nil
}

// grow doubles b's capacity up to max; false when it is already there.
func grow(b *[]byte, max int) bool {
	if cap(*b) >= max {
		return false
	}
	nb := make([]byte, len(*b), min(2*cap(*b), max))
	copy(nb, *b)
	*b = nb
	return true
}

// startLoops starts n event loops; the accept loop gives them the
// connections from then on.
func (f *fastServer) startLoops(n int) error {
	for i := 0; i < n; i++ {
		l, err := newEvLoop(f)
		if err != nil {
			for _, l := range f.loops {
				syscall.Close(l.ep)
				syscall.Close(l.efd)
			}
			f.loops = nil
			return err
		}
		f.loops = append(f.loops, l)
	}
	// a P for each loop, which holds it while it waits (see evLoop.wait)
	runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + n)
	for _, l := range f.loops {
		f.loopsWG.Add(1)
		go l.run()
	}
	go func() { f.loopsWG.Wait(); runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) - n) }()
	return nil
}

// toLoop gives an accepted connection to the next loop.
func (f *fastServer) toLoop(c net.Conn) {
	remote := c.RemoteAddr().String()
	fd, err := takeFD(c)
	if err != nil {
		f.s.Log.Warn("event loop: connection not taken", "error", err)
		f.gate.leave()
		return
	}
	f.mu.Lock()
	if f.closing {
		f.mu.Unlock()
		syscall.Close(fd)
		f.gate.leave()
		return
	}
	f.wg.Add(1)
	f.mu.Unlock()
	l := f.loops[f.next.Add(1)%uint32(len(f.loops))]
	if !l.post(func() { l.adopt(fd, remote) }) {
		syscall.Close(fd)
		f.gate.leave()
		f.wg.Done()
	}
}
