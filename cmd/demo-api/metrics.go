package main

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// buckets are the histogram's upper bounds in seconds: fine around the
// 500 ms P95 threshold of the reference deployment.
var buckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 10}

// metrics is a minimal Prometheus text-format exporter: a request counter
// by status code and a latency histogram. Health checks and scrapes are not
// counted, so probes do not dilute the application's error rate.
type metrics struct {
	slot   string
	mu     sync.Mutex
	codes  map[int]uint64
	counts []uint64 // per bucket, not cumulative
	sum    float64
	total  uint64
}

func newMetrics(slot string) *metrics {
	return &metrics{slot: slot, codes: map[int]uint64{}, counts: make([]uint64, len(buckets))}
}

func (m *metrics) observe(code int, d time.Duration) {
	s := d.Seconds()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.codes[code]++
	m.total++
	m.sum += s
	for i, b := range buckets {
		if s <= b {
			m.counts[i]++
			break
		}
	}
}

// instrument counts every request except probes and scrapes.
func (m *metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" || strings.HasPrefix(r.URL.Path, "/health") {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		m.observe(rec.code, time.Since(start))
	})
}

func (m *metrics) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	m.mu.Lock()
	defer m.mu.Unlock()
	slot := strconv.Quote(m.slot)
	fmt.Fprintln(w, "# HELP http_requests_total Requests answered, by slot and status code.")
	fmt.Fprintln(w, "# TYPE http_requests_total counter")
	codes := make([]int, 0, len(m.codes))
	for c := range m.codes {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	for _, c := range codes {
		fmt.Fprintf(w, "http_requests_total{slot=%s,code=\"%d\"} %d\n", slot, c, m.codes[c])
	}
	fmt.Fprintln(w, "# HELP http_request_duration_seconds Request latency, by slot.")
	fmt.Fprintln(w, "# TYPE http_request_duration_seconds histogram")
	var cum uint64
	for i, b := range buckets {
		cum += m.counts[i]
		fmt.Fprintf(w, "http_request_duration_seconds_bucket{slot=%s,le=%q} %d\n", slot, strconv.FormatFloat(b, 'g', -1, 64), cum)
	}
	fmt.Fprintf(w, "http_request_duration_seconds_bucket{slot=%s,le=\"+Inf\"} %d\n", slot, m.total)
	fmt.Fprintf(w, "http_request_duration_seconds_sum{slot=%s} %g\n", slot, m.sum)
	fmt.Fprintf(w, "http_request_duration_seconds_count{slot=%s} %d\n", slot, m.total)
}

type statusRecorder struct {
	http.ResponseWriter
	code    int
	written bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.written {
		s.code, s.written = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.written = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flush, deadlines).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
