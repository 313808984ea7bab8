package proxy

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Limits are the proxy's timeouts and its limit on client connections, each
// a traffic.local key with a default close to nginx's (docs/rollout.md has
// the table). A zero value takes the default.
type Limits struct {
	// HeaderTimeout bounds a new connection's wait for its first request
	// head, and every head from its first byte to its end (nginx's
	// client_header_timeout, net/http's ReadHeaderTimeout).
	HeaderTimeout time.Duration `mapstructure:"header_timeout"`
	// KeepAliveTimeout closes a client connection idle for that long
	// between requests (keepalive_timeout).
	KeepAliveTimeout time.Duration `mapstructure:"keepalive_timeout"`
	// BodyTimeout ends a request whose body makes no progress for that long
	// (client_body_timeout).
	BodyTimeout time.Duration `mapstructure:"body_timeout"`
	// SlotReadTimeout is how long the proxy waits for a slot's answer head
	// before it answers 504 (proxy_read_timeout).
	SlotReadTimeout time.Duration `mapstructure:"slot_read_timeout"`
	// SlotIdleTimeout is how long a connection to a slot waits in the pool
	// before the proxy closes it (keepalive_timeout of an upstream block).
	SlotIdleTimeout time.Duration `mapstructure:"slot_idle_timeout"`
	// MaxConnections is the most client connections served at once; more
	// are refused with a 503 while those open are served on. 0 is derived
	// from the file descriptor limit (autoMaxConnections).
	MaxConnections int `mapstructure:"max_connections"`
}

// The defaults of Limits.
const (
	DefaultHeaderTimeout    = 10 * time.Second
	DefaultKeepAliveTimeout = 75 * time.Second
	DefaultBodyTimeout      = 60 * time.Second
	DefaultSlotReadTimeout  = 60 * time.Second
)

// timeouts are the timeout keys with their defaults: the one list that
// defaults, DefaultSettings and check read.
func (l *Limits) timeouts() []struct {
	key string
	v   *time.Duration
	def time.Duration
} {
	return []struct {
		key string
		v   *time.Duration
		def time.Duration
	}{
		{"header_timeout", &l.HeaderTimeout, DefaultHeaderTimeout},
		{"keepalive_timeout", &l.KeepAliveTimeout, DefaultKeepAliveTimeout},
		{"body_timeout", &l.BodyTimeout, DefaultBodyTimeout},
		{"slot_read_timeout", &l.SlotReadTimeout, DefaultSlotReadTimeout},
		{"slot_idle_timeout", &l.SlotIdleTimeout, DefaultSlotIdleTimeout},
	}
}

// defaultTimeouts fills in the default of each timeout left at zero.
func (l Limits) defaultTimeouts() Limits {
	for _, t := range l.timeouts() {
		if *t.v == 0 {
			*t.v = t.def
		}
	}
	return l
}

// withDefaults is the limits the proxy runs with: the default timeouts,
// and the connection limit from the descriptor limit when it is 0.
func (l Limits) withDefaults() Limits {
	l = l.defaultTimeouts()
	if l.MaxConnections == 0 {
		l.MaxConnections = autoMaxConnections()
	}
	return l
}

// check says which configured limit is out of range.
func (l Limits) check() error {
	for _, t := range l.timeouts() {
		if *t.v <= 0 {
			return fmt.Errorf("traffic.local.%s %s must be above 0 (default %s)", t.key, *t.v, t.def)
		}
	}
	if l.MaxConnections < 0 {
		return fmt.Errorf("traffic.local.max_connections %d must be 0 (from the file descriptor limit) or above", l.MaxConnections)
	}
	return nil
}

// autoMaxConnections is the connection limit below the process's file
// descriptor limit: each client connection may hold a slot connection
// too, and some descriptors are the proxy's own. Go raises the soft limit
// to the hard one at start (since Go 1.19), so this is the hard limit.
func autoMaxConnections() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<30 {
		return 1 << 20
	}
	return max(int(rl.Cur-fdReserve)/2, 16)
}

// fdReserve are the descriptors left to the proxy itself: the listener,
// the state folder, the logs, the dials in progress.
const fdReserve = 64

// gate counts the client connections open on every path and refuses those
// over the limit.
type gate struct {
	max  int64
	open atomic.Int64
}

// enter counts a new connection; false when it is over the limit.
func (g *gate) enter() bool {
	if g.open.Add(1) > g.max {
		g.open.Add(-1)
		return false
	}
	return true
}

func (g *gate) leave() { g.open.Add(-1) }

// refuse answers a connection over the limit with a short 503 and closes
// it; the socket's send buffer is empty, so the write does not wait.
func refuse(c net.Conn) {
	c.SetDeadline(time.Now().Add(time.Second))
	c.Write(tooManyConnections)
	c.Close()
}

var tooManyConnections = []byte("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n" +
	"Retry-After: 1\r\nConnection: close\r\nContent-Length: 43\r\n\r\nservice unavailable: too many connections\r\n")

// gatedListener is the net/http path's listener under the gate.
type gatedListener struct {
	net.Listener
	g *gate
}

func (l gatedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.g.enter() {
			return &gatedConn{Conn: c, g: l.g}, nil
		}
		go refuse(c)
	}
}

// gatedConn leaves the gate when it closes.
type gatedConn struct {
	net.Conn
	g    *gate
	once sync.Once
}

func (c *gatedConn) Close() error {
	c.once.Do(c.g.leave)
	return c.Conn.Close()
}
