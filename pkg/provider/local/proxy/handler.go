package proxy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
)

// StickyCookie pins a client to a slot when traffic.local.sticky is on.
const StickyCookie = "deployctl_slot"

// newTransport keeps many idle connections per slot: under load, opening a
// connection per request would cost more than the proxying itself. Its
// limits are the proxy's: the idle timeout, the wait for an answer head,
// the size of a head.
func newTransport(lim Limits) *http.Transport {
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:           2048,
		MaxIdleConnsPerHost:    1024,
		IdleConnTimeout:        lim.SlotIdleTimeout,
		ResponseHeaderTimeout:  lim.SlotReadTimeout,
		MaxResponseHeaderBytes: maxAnswerHead,
		DisableCompression:     true,
	}
}

// newSlotProxy forwards to one slot. The client's Host is kept, the
// X-Forwarded-* headers are set, and responses of unknown length (streams)
// are flushed as they come. A slot that does not answer in time is a 504,
// any other failure a 502.
func newSlotProxy(s provider.Slot, target *url.URL, tr http.RoundTripper, log *slog.Logger) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
			pr.Out.Host = pr.In.Host
		},
		Transport:  tr,
		BufferPool: bufferPool{},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil { // the client went away, and the request to the slot with it
				w.WriteHeader(statusClientGone)
				return
			}
			log.Warn("upstream error", "slot", s, "url", target.Redacted(), "error", err)
			if isTimeout(err) {
				http.Error(w, fmt.Sprintf("gateway timeout: slot %s did not answer in time", s), http.StatusGatewayTimeout)
				return
			}
			http.Error(w, fmt.Sprintf("bad gateway: slot %s is not answering", s), http.StatusBadGateway)
		},
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// bodyTimeout ends a request whose body makes no progress for d: before
// each read of it, the connection's read deadline moves d ahead; at its
// end the deadline is lifted, so that net/http's own watch of the
// connection while the slot answers is not cut short; after a failed one
// it stays, and the connection closes.
func bodyTimeout(next http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &deadlineBody{ReadCloser: r.Body, rc: http.NewResponseController(w), d: d}
		}
		next.ServeHTTP(w, r)
	})
}

type deadlineBody struct {
	io.ReadCloser
	rc  *http.ResponseController
	d   time.Duration
	err error
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	b.rc.SetReadDeadline(time.Now().Add(b.d))
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.err = err
		if err == io.EOF { // a failed body leaves the deadline behind: the connection is not in step
			b.rc.SetReadDeadline(time.Time{})
		}
	}
	return n, err
}

// hostPort is the slot's address with its port, 80 when the URL has none.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// bufferPool reuses the copy buffers: without it every request allocates
// 32 KiB, and the garbage collector becomes the proxy's main work.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32*1024); return &b }}

func (bufferPool) Get() []byte  { return *(buffers.Get().(*[]byte)) }
func (bufferPool) Put(b []byte) { buffers.Put(&b) }

// weighted picks a slot per request from the current weights, and sends
// the request to that slot's current backend.
type weighted struct {
	current func() *Doc
	routes  func() *routes
	sticky  bool
}

func (h *weighted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	wts, rt := h.current().Weights, h.routes()
	slot := pick(wts)
	if h.sticky {
		if c, err := r.Cookie(StickyCookie); err == nil && provider.Slot(c.Value).Valid() && wts[provider.Slot(c.Value)] > 0 {
			slot = provider.Slot(c.Value)
		} else {
			http.SetCookie(w, &http.Cookie{Name: StickyCookie, Value: string(slot), Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
		}
	}
	if rec, ok := w.(*recorder); ok {
		rec.slot = slot
	}
	rt.of(slot).proxy.ServeHTTP(w, r)
}

func pick(w provider.Weights) provider.Slot {
	if rand.IntN(100) < w[provider.Blue] {
		return provider.Blue
	}
	return provider.Green
}

// requestID takes the client's X-Request-Id or makes one, and passes it on
// to the slot and back to the client.
func requestID(r *http.Request) string {
	id := r.Header.Get("X-Request-Id")
	if id == "" || len(id) > 128 {
		id = hexID(rand.Uint64())
		r.Header.Set("X-Request-Id", id)
	}
	return id
}

// hexID is %016x without fmt, which showed up in the per-request profile.
func hexID(v uint64) string {
	const digits = "0123456789abcdef"
	var b [16]byte
	for i := 15; i >= 0; i-- {
		b[i] = digits[v&0xf]
		v >>= 4
	}
	return string(b[:])
}

// recorder notes status, size and slot for the access log. Unwrap lets the
// reverse proxy flush streams through it.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	slot   provider.Slot
}

func (rec *recorder) WriteHeader(code int) {
	if rec.status == 0 {
		rec.status = code
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *recorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	n, err := rec.ResponseWriter.Write(b)
	rec.bytes += int64(n)
	return n, err
}

func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

// accessLog writes one JSON line per request to out.
type accessLog struct {
	mu  sync.Mutex
	out io.Writer
}

type accessEntry struct {
	Time       time.Time     `json:"time"`
	ID         string        `json:"request_id"`
	Remote     string        `json:"remote"`
	Method     string        `json:"method"`
	Path       string        `json:"path"`
	Status     int           `json:"status"`
	Bytes      int64         `json:"bytes"`
	Slot       provider.Slot `json:"slot,omitempty"`
	DurationMS float64       `json:"duration_ms"`
}

func (l *accessLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := requestID(r)
		w.Header().Set("X-Request-Id", id)
		if l == nil {
			next.ServeHTTP(w, r)
			return
		}
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		l.write(accessEntry{Time: start.UTC(), ID: id, Remote: r.RemoteAddr, Method: r.Method, Path: r.URL.Path,
			Status: rec.status, Bytes: rec.bytes, Slot: rec.slot, DurationMS: float64(time.Since(start).Microseconds()) / 1000})
	})
}

func (l *accessLog) write(e accessEntry) {
	line, _ := json.Marshal(e)
	l.mu.Lock()
	l.out.Write(append(line, '\n'))
	l.mu.Unlock()
}
