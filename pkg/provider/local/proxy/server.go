package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/local/statefs"
)

// Wrapper puts a maintenance page in front of the slots.
type Wrapper func(current func() provider.MaintenanceState, next http.Handler) http.Handler

// Server is the running proxy of one environment.
type Server struct {
	Paths  Paths
	Slots  map[provider.Slot]*url.URL
	Sticky bool
	// Maintenance wraps the weighted handler (pkg/maintenance/page); nil
	// serves the slots even when maintenance is on.
	Maintenance Wrapper
	AccessLog   io.Writer // nil: no access log
	Log         *slog.Logger
	Poll        time.Duration // how often the state file is checked
	Drain       time.Duration // how long SIGTERM waits for requests in flight
	// StandardPath serves every request through net/http and
	// httputil.ReverseProxy, without the fast path (see fastServer).
	StandardPath bool
	// EventLoops is the number of event loops of the fast path (see
	// evLoop), traffic.local.event_loops: 0 is one per CPU on Linux; below
	// 0, or elsewhere, a goroutine serves each connection.
	EventLoops int
	// Limits are the timeouts and the connection limit; zero values take
	// the defaults.
	Limits

	cur atomic.Pointer[Doc]
	// rt are the slots' backends, replaced at reload when a slot's URL
	// changes (backend.go)
	rt        atomic.Pointer[routes]
	tr, stock *http.Transport // shared by the backends (transports)
	poolCtx   context.Context // the pools' watches run until it ends
	// requests the fast path forwarded, and connections it handed to net/http
	fastServed, handedOff atomic.Int64
	loopServed            atomic.Int64 // of fastServed, by an event loop
	started               time.Time
	listen                string
	seen                  fileID
}

func (s *Server) current() *Doc { return s.cur.Load() }

// Handler serves /-/health itself and everything else through the
// maintenance page and the weighted slots.
func (s *Server) Handler() http.Handler {
	h, _ := s.handler()
	return h
}

// handler is Handler with the access log, which the fast path shares.
//
// On the standard path (fast_path: false) the slots are served by Go's
// stock http.Transport, so that it is the conservative path an operator
// falls back to; otherwise by directTransport, which shares its pools with
// the fast path (newBackend).
func (s *Server) handler() (http.Handler, *accessLog) {
	lim := s.Limits.withDefaults()
	if s.rt.Load() == nil { // Handler without Run: the slots as configured
		s.applySlots(DefaultDoc())
	}
	var h http.Handler = &weighted{current: s.current, routes: s.routes, sticky: s.Sticky}
	if s.Maintenance != nil {
		h = s.Maintenance(func() provider.MaintenanceState { return s.current().Maintenance }, h)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/-/health", s.health)
	mux.Handle("/", bodyTimeout(h, lim.BodyTimeout))
	var al *accessLog
	if s.AccessLog != nil {
		al = &accessLog{out: s.AccessLog}
	}
	return al.wrap(mux), al
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	d := s.current()
	slots := map[provider.Slot]string{}
	for slot, a := range s.ackSlots() {
		slots[slot] = a.URL
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]any{
		"status": "ok", "pid": os.Getpid(), "revision": d.Revision, "weights": d.Weights, "maintenance": d.Maintenance.On, "slots": slots,
	})
}

// Run serves on ln until ctx ends, then stops accepting and waits up to
// Drain for requests in flight. It refuses to start when another proxy
// serves the environment or the state document is malformed.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	release, free, err := s.lock()
	if err != nil {
		return err
	}
	if !free {
		ack, _ := ReadAck(s.Paths.Ack())
		pid := 0
		if ack != nil {
			pid = ack.PID
		}
		return fmt.Errorf("another proxy (pid %d) already serves this environment; stop it first", pid)
	}
	defer release()
	s.started, s.listen = time.Now().UTC(), ln.Addr().String()
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	s.poolCtx = wctx // the pools' watches (newBackend)
	if err := s.reload(true); err != nil {
		return err
	}
	h, al := s.handler()
	lim := s.Limits.withDefaults()
	s.Log.Info("limits", "header_timeout", lim.HeaderTimeout.String(), "keepalive_timeout", lim.KeepAliveTimeout.String(),
		"body_timeout", lim.BodyTimeout.String(), "slot_read_timeout", lim.SlotReadTimeout.String(),
		"slot_idle_timeout", lim.SlotIdleTimeout.String(), "max_connections", lim.MaxConnections)
	g := &gate{max: int64(lim.MaxConnections)}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: lim.HeaderTimeout, IdleTimeout: lim.KeepAliveTimeout,
		ErrorLog: slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn)}
	watched := make(chan struct{})
	go func() { s.watch(wctx); close(watched) }()
	defer func() { stopWatch(); <-watched }()
	errc := make(chan error, 2)
	var fast *fastServer
	if fastEligible(s) {
		// net/http serves the connections the fast path hands over
		fast = &fastServer{s: s, lim: lim, gate: g, handoff: newHandoffListener(ln.Addr()), log: al, conns: map[*fastConn]bool{}}
		if n := s.eventLoops(); n > 0 {
			if err := fast.startLoops(n); err != nil {
				s.Log.Warn("event loops unavailable; a goroutine serves each connection", "error", err)
			}
		}
		go func() { errc <- srv.Serve(fast.handoff) }()
		go func() { errc <- fast.serve(ln) }()
	} else {
		go func() { errc <- srv.Serve(gatedListener{Listener: ln, g: g}) }()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.Log.Info("draining", "timeout", s.Drain.String())
	dctx, cancel := context.WithTimeout(context.Background(), s.Drain)
	defer cancel()
	var fastErr error
	if fast != nil {
		ln.Close()
		fastErr = fast.shutdown(dctx)
	}
	if err := errors.Join(srv.Shutdown(dctx), fastErr); err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	return nil
}

func (s *Server) eventLoops() int {
	switch {
	case !evLoopsAvailable || s.EventLoops < 0:
		return 0
	case s.EventLoops > 0:
		return s.EventLoops
	}
	return runtime.GOMAXPROCS(0)
}

// lock takes the proxy's lock. Commands that ask "is a proxy running?" hold
// it shared for a moment, so a few retries tell them from a running proxy.
func (s *Server) lock() (func() error, bool, error) {
	for i := 0; ; i++ {
		release, free, err := statefs.TryLock(s.Paths.Lock(), true)
		if free || err != nil || i == 50 {
			return release, free, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fileID tells whether the state file was replaced since the last look.
type fileID struct {
	ino   uint64
	mtime time.Time
	size  int64
}

func statID(path string) (fileID, error) {
	st, err := os.Stat(path)
	if err != nil {
		return fileID{}, err
	}
	id := fileID{mtime: st.ModTime(), size: st.Size()}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		id.ino = sys.Ino
	}
	return id, nil
}

func (s *Server) watch(ctx context.Context) {
	t := time.NewTicker(s.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.reload(false); err != nil {
				s.Log.Error("state not applied; still serving the last good state", "revision", s.current().Revision, "error", err)
			}
		}
	}
}

// reload applies the state document when it changed (always at start) and
// acknowledges it.
func (s *Server) reload(first bool) error {
	path := (&statefs.Store{Dir: s.Paths.StateDir()}).Path(StateKey)
	id, err := statID(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if !first && id == s.seen {
		return nil
	}
	s.seen = id
	d := DefaultDoc()
	if err == nil {
		data, rerr := os.ReadFile(path)
		if rerr != nil {
			return rerr
		}
		if d, err = ParseDoc(data); err != nil {
			return fmt.Errorf("the proxy state file %s is malformed (%v): fix it, or remove it to start again from blue 100%%", path, err)
		}
	}
	// the slots' URLs first: once the ack says so, every request goes there
	for _, c := range s.applySlots(d) {
		if c.override {
			s.Log.Info("slot URL", "slot", c.slot, "url", c.url, "was", c.was,
				"from", "the state (release --slot-url); it wins over traffic.local.slots."+string(c.slot)+".url until changed")
		} else {
			s.Log.Info("slot URL", "slot", c.slot, "url", c.url, "was", c.was, "from", "traffic.local.slots."+string(c.slot)+".url")
		}
	}
	s.cur.Store(d)
	s.Log.Info("serving", "revision", d.Revision, "weights", d.Weights.String(), "maintenance", d.Maintenance.On)
	return s.ack(d)
}

func (s *Server) ack(d *Doc) error {
	a := Ack{Format: Format, PID: os.Getpid(), Listen: s.listen, StartedAt: s.started, Revision: d.Revision,
		Weights: d.Weights, Maintenance: d.Maintenance, Slots: s.ackSlots(), AppliedAt: time.Now().UTC()}
	data, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return err
	}
	return statefs.WriteFileAtomic(s.Paths.Ack(), append(data, '\n'))
}
