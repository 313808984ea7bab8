package proxy

import (
	"encoding/json"
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
// connection per request would cost more than the proxying itself.
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2048,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}

// newSlotProxy forwards to one slot. The client's Host is kept, the
// X-Forwarded-* headers are set, and responses of unknown length (streams)
// are flushed as they come.
func newSlotProxy(s provider.Slot, target *url.URL, tr *directTransport, log *slog.Logger) *httputil.ReverseProxy {
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
			log.Warn("upstream error", "slot", s, "url", target.String(), "error", err)
			http.Error(w, fmt.Sprintf("bad gateway: slot %s is not answering", s), http.StatusBadGateway)
		},
	}
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

// weighted picks a slot per request from the current weights.
type weighted struct {
	current func() *Doc
	slots   map[provider.Slot]http.Handler
	sticky  bool
}

func (h *weighted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	wts := h.current().Weights
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
	h.slots[slot].ServeHTTP(w, r)
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
