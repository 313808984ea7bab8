package prometheus_test

import (
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/analysis"
	"github.com/deployctl/deployctl/pkg/analysis/prometheus"
	"github.com/deployctl/deployctl/pkg/analysis/prometheus/promtest"
	"github.com/deployctl/deployctl/pkg/provider"
)

var from = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)

// series: green is healthy (0.5% errors, P95 375 ms), blue breaches both
// (3% errors, P95 750 ms), idle has counters that never grow (0/0 = NaN).
func series() *promtest.Builder {
	b := promtest.NewBuilder(from)
	b.Counter("http_requests", `slot="green",code="200"`, 199).
		Counter("http_requests", `slot="green",code="500"`, 1).
		Counter("http_requests", `slot="blue",code="200"`, 97).
		Counter("http_requests", `slot="blue",code="503"`, 3).
		Counter("http_requests", `slot="idle",code="200"`, 0).
		Counter("http_requests", `slot="idle",code="500"`, 0)
	b.Histogram("http_request_duration_seconds", `slot="green"`, promtest.Bucket{LE: 0.1, PerStep: 90}, promtest.Bucket{LE: 0.25}, promtest.Bucket{LE: 0.5, PerStep: 10}, promtest.Bucket{LE: 1}).
		Histogram("http_request_duration_seconds", `slot="blue"`, promtest.Bucket{LE: 0.1, PerStep: 90}, promtest.Bucket{LE: 0.25}, promtest.Bucket{LE: 0.5}, promtest.Bucket{LE: 1, PerStep: 10}).
		Histogram("http_request_duration_seconds", `slot="idle"`, promtest.Bucket{LE: 0.1}, promtest.Bucket{LE: 1})
	return b
}

var (
	promOnce sync.Once
	prom     *promtest.Server
	promErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if prom != nil {
		prom.Close()
	}
	os.Exit(code)
}

// startProm starts one Prometheus for the package, on first use.
func startProm(t *testing.T) (string, time.Time) {
	t.Helper()
	promtest.Require(t)
	b := series()
	promOnce.Do(func() { prom, promErr = promtest.Launch(promtest.Options{OpenMetrics: b.String()}) })
	if promErr != nil {
		t.Fatal(promErr)
	}
	return prom.URL, b.End()
}

func analyzer(t *testing.T, o prometheus.Options) *prometheus.Analyzer {
	t.Helper()
	a, err := prometheus.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestAnalyzeHealthySlotPasses(t *testing.T) {
	url, end := startProm(t)
	a := analyzer(t, prometheus.Options{URL: url, Now: func() time.Time { return end }})
	rep, err := a.Analyze(t.Context(), provider.Green)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != analysis.Pass || rep.Slot != provider.Green {
		t.Fatalf("report %+v, want pass for green", rep)
	}
	er, p95 := rep.Measurements[0], rep.Measurements[1]
	if er.Name != "error_rate" || !near(er.Value, 0.005) || er.Threshold != 0.01 || er.Verdict != analysis.Pass {
		t.Errorf("error rate %+v, want 0.005 <= 0.01 pass", er)
	}
	if p95.Name != "p95" || !near(p95.Value, 0.375) || p95.Threshold != 0.5 || p95.Unit != "seconds" {
		t.Errorf("p95 %+v, want 0.375 s <= 0.5 s", p95)
	}
	want := `(sum(rate(http_requests_total{slot="green",code=~"5.."}[5m])) or vector(0)) / sum(rate(http_requests_total{slot="green"}[5m]))`
	if er.Query != want {
		t.Errorf("query %q, want %q", er.Query, want)
	}
}

func TestAnalyzeBreachFails(t *testing.T) {
	url, end := startProm(t)
	a := analyzer(t, prometheus.Options{URL: url, Now: func() time.Time { return end }})
	rep, err := a.Analyze(t.Context(), provider.Blue)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != analysis.Fail {
		t.Fatalf("verdict %s, want fail", rep.Verdict)
	}
	er, p95 := rep.Measurements[0], rep.Measurements[1]
	if !near(er.Value, 0.03) || er.Verdict != analysis.Fail || !near(p95.Value, 0.75) || p95.Verdict != analysis.Fail {
		t.Fatalf("measurements %+v, want 0.03 and 0.75 s both failing", rep.Measurements)
	}
	msg := er.String()
	for _, w := range []string{"error_rate 3% > threshold 1%: fail", `query: (sum(rate(http_requests_total{slot="blue"`} {
		if !strings.Contains(msg, w) {
			t.Errorf("%q lacks %q", msg, w)
		}
	}
	if got := p95.String(); !strings.Contains(got, "p95 750ms > threshold 500ms: fail") {
		t.Errorf("p95 message %q", got)
	}
}

func TestAnalyzeThresholdsFromOptions(t *testing.T) {
	url, end := startProm(t)
	a := analyzer(t, prometheus.Options{URL: url, ErrorRateMax: 0.05, P95Max: time.Second, Now: func() time.Time { return end }})
	rep, err := a.Analyze(t.Context(), provider.Blue)
	if err != nil || rep.Verdict != analysis.Pass {
		t.Fatalf("verdict %s, err %v; want pass under 5%% and 1s", rep.Verdict, err)
	}
}

// No data and NaN are inconclusive, never a pass (Argo Rollouts #4479).
func TestAnalyzeNoDataIsInconclusive(t *testing.T) {
	url, end := startProm(t)
	cases := []struct {
		name string
		slot provider.Slot
		at   time.Time
		want string
	}{
		{"no series", provider.Green, end.Add(time.Hour), "no data: the query returned no series"},
		{"NaN", provider.Slot("idle"), end, "no data: the query returned NaN"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := analyzer(t, prometheus.Options{URL: url, Now: func() time.Time { return c.at }})
			rep, err := a.Analyze(t.Context(), c.slot)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Verdict != analysis.Inconclusive {
				t.Fatalf("verdict %s, want inconclusive", rep.Verdict)
			}
			for _, m := range rep.Measurements {
				if m.Verdict != analysis.Inconclusive || !strings.Contains(m.Error, c.want) {
					t.Errorf("%s: %+v, want inconclusive with %q", m.Name, m, c.want)
				}
			}
		})
	}
}

func TestAnalyzeBadQueriesAreInconclusive(t *testing.T) {
	url, end := startProm(t)
	a := analyzer(t, prometheus.Options{URL: url, Now: func() time.Time { return end },
		ErrorRateQuery: `sum(rate(http_requests_total{slot="{{slot}}"}[5m]`,
		P95Query:       `rate(http_requests_total{slot="{{slot}}"}[5m])`})
	rep, err := a.Analyze(t.Context(), provider.Green)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != analysis.Inconclusive {
		t.Fatalf("verdict %s, want inconclusive", rep.Verdict)
	}
	if e := rep.Measurements[0].Error; !strings.Contains(e, "Prometheus rejected the query (bad_data)") {
		t.Errorf("syntax error measurement: %q", e)
	}
	if e := rep.Measurements[1].Error; !strings.Contains(e, "returned 2 series") {
		t.Errorf("two-series measurement: %q", e)
	}
}

// A breach wins over an inconclusive measurement: abort rather than pause.
func TestAnalyzeBreachBeatsInconclusive(t *testing.T) {
	url, end := startProm(t)
	a := analyzer(t, prometheus.Options{URL: url, Now: func() time.Time { return end }, P95Query: "nonexistent_metric"})
	rep, err := a.Analyze(t.Context(), provider.Blue)
	if err != nil || rep.Verdict != analysis.Fail {
		t.Fatalf("verdict %s, err %v; want fail", rep.Verdict, err)
	}
}

func TestAnalyzeUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := strings.Replace(srv.URL, "http://", "http://admin:hunter2@", 1)
	srv.Close()
	a := analyzer(t, prometheus.Options{URL: url})
	rep, err := a.Analyze(t.Context(), provider.Green)
	var ue *provider.UnreachableError
	if !errors.As(err, &ue) {
		t.Fatalf("err %v, want *provider.UnreachableError", err)
	}
	if rep.Verdict != analysis.Inconclusive || len(rep.Measurements) != 2 {
		t.Errorf("report %+v, want inconclusive with both measurements", rep)
	}
	if strings.Contains(err.Error(), "hunter2") || strings.Contains(rep.Measurements[0].Error, "hunter2") {
		t.Errorf("password leaked: %v / %s", err, rep.Measurements[0].Error)
	}
}

func TestAnalyzeNotPrometheus(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	rep, err := analyzer(t, prometheus.Options{URL: srv.URL}).Analyze(t.Context(), provider.Green)
	if err != nil || rep.Verdict != analysis.Inconclusive || !strings.Contains(rep.Measurements[0].Error, "HTTP 404 without a Prometheus API answer") {
		t.Fatalf("report %+v, err %v", rep, err)
	}
}

// The query as sent is the query reported, with time= from Now and a path
// prefix kept.
func TestAnalyzeSendsReportedQuery(t *testing.T) {
	var got []string
	var at string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/prom/api/v1/query" {
			http.NotFound(w, r)
			return
		}
		got = append(got, r.URL.Query().Get("query"))
		at = r.URL.Query().Get("time")
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"scalar","result":[1,"0.001"]}}`))
	}))
	defer srv.Close()
	now := time.Date(2026, 1, 5, 10, 0, 0, 250e6, time.UTC)
	a := analyzer(t, prometheus.Options{URL: srv.URL + "/prom/", Now: func() time.Time { return now }})
	rep, err := a.Analyze(t.Context(), provider.Green)
	if err != nil || rep.Verdict != analysis.Pass {
		t.Fatalf("report %+v, err %v", rep, err)
	}
	for i, m := range rep.Measurements {
		if got[i] != m.Query {
			t.Errorf("sent %q, reported %q", got[i], m.Query)
		}
	}
	if at != "1767607200.250" {
		t.Errorf("time=%s, want 1767607200.250", at)
	}
}

// {{interval}} is the window analysed: a step's wait, in whole seconds.
func TestAnalyzeWindowSetsInterval(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.Query().Get("query"))
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"scalar","result":[1,"0.001"]}}`))
	}))
	defer srv.Close()
	a := analyzer(t, prometheus.Options{URL: srv.URL, ErrorRateQuery: `rate(e{slot="{{slot}}"}[{{interval}}])`, P95Query: `p{slot="{{slot}}"}`})
	for _, c := range []struct {
		window time.Duration
		want   string
	}{{2 * time.Minute, `rate(e{slot="green"}[120s])`}, {300 * time.Millisecond, `rate(e{slot="green"}[1s])`}, {0, `rate(e{slot="green"}[5m])`}} {
		got = nil
		if _, err := a.AnalyzeWindow(t.Context(), provider.Green, c.window); err != nil {
			t.Fatal(err)
		}
		if got[0] != c.want || got[1] != `p{slot="green"}` {
			t.Errorf("window %s: sent %q, want %q", c.window, got, c.want)
		}
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, o := range []prometheus.Options{
		{},
		{URL: "127.0.0.1:9090"},
		{URL: "http://x", ErrorRateMax: 1.5},
		{URL: "http://x", P95Max: -time.Second},
	} {
		if _, err := prometheus.New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}
