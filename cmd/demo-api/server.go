package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

// app is the demo application's state.
type app struct {
	opts    *options
	db      *dbCheck // nil: no database configured, always ready
	metrics *metrics
	served  atomic.Uint64 // requests to /, for the deterministic error rate
}

func newApp(o *options) *app {
	a := &app{opts: o, metrics: newMetrics(o.Slot)}
	if o.DatabaseURL != "" {
		a.db = &dbCheck{url: o.DatabaseURL, timeout: o.DBTimeout}
	}
	return a
}

func (a *app) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.root)
	mux.HandleFunc("GET /health", a.health)
	mux.HandleFunc("GET /health/readiness", a.readiness)
	mux.Handle("GET /metrics", a.metrics)
	return a.metrics.instrument(mux)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (a *app) root(w http.ResponseWriter, r *http.Request) {
	if a.opts.Delay > 0 {
		select {
		case <-time.After(a.opts.Delay):
		case <-r.Context().Done():
			return
		}
	}
	if a.failNext() {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "injected failure (--error-rate)", "version": a.opts.VersionName, "slot": a.opts.Slot})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"version": a.opts.VersionName, "slot": a.opts.Slot})
}

// failNext fails exactly floor(n*rate) of the first n requests, so a rate
// is reproducible in tests rather than random.
func (a *app) failNext() bool {
	if a.opts.ErrorRate <= 0 {
		return false
	}
	n := float64(a.served.Add(1))
	return int(n*a.opts.ErrorRate) > int((n-1)*a.opts.ErrorRate)
}

func (a *app) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": a.opts.VersionName, "slot": a.opts.Slot})
}

func (a *app) readiness(w http.ResponseWriter, r *http.Request) {
	body := map[string]string{"status": "ready", "version": a.opts.VersionName, "slot": a.opts.Slot, "database": "not configured"}
	if a.db != nil {
		if err := a.db.check(r.Context()); err != nil {
			body["status"], body["database"] = "unavailable", err.Error()
			writeJSON(w, http.StatusServiceUnavailable, body)
			return
		}
		body["database"] = "ok"
	}
	writeJSON(w, http.StatusOK, body)
}

// run is the whole life of the process; it returns the exit code.
func run(args, env []string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, env, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "demo-api:", err)
		return 2
	}
	if o.PrintVersion {
		fmt.Fprintf(stdout, "demo-api %s (build %s)\n", o.VersionName, build)
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, o, stderr); err != nil {
		fmt.Fprintln(stderr, "demo-api:", err)
		return 1
	}
	return 0
}

// serve listens until ctx ends, then drains requests in flight.
func serve(ctx context.Context, o *options, stderr io.Writer) error {
	a := newApp(o)
	defer a.db.close()
	l, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: a.handler(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stderr, "demo-api %s (%s) listening on http://%s\n", o.VersionName, o.Slot, l.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	fmt.Fprintln(stderr, "demo-api: shutting down, draining requests in flight")
	sctx, cancel := context.WithTimeout(context.Background(), o.ShutdownTimeout)
	defer cancel()
	return srv.Shutdown(sctx)
}
