package alerts

import (
	"strings"
	"testing"
	"time"
)

func TestMetricsOfTheDefaultQueries(t *testing.T) {
	want := map[string]string{
		"error_rate":    "http_requests_total",
		"p95_latency":   "http_request_duration_seconds_bucket",
		"slow_query":    "pg_stat_activity_max_tx_duration",
		"database_disk": "node_filesystem_avail_bytes node_filesystem_size_bytes",
		"cpu":           "node_cpu_seconds_total",
		"memory":        "node_memory_MemAvailable_bytes node_memory_MemTotal_bytes",
		"disk":          "node_filesystem_avail_bytes node_filesystem_size_bytes",
	}
	exps, err := Expectations(Settings{})
	if err != nil {
		t.Fatal(err)
	}
	if len(exps) != 7 {
		t.Fatalf("%d rows", len(exps))
	}
	for _, e := range exps {
		if got := strings.Join(e.Metrics, " "); got != want[e.ID] {
			t.Errorf("%s: metrics %q, want %q (query %s)", e.ID, got, want[e.ID], e.Query)
		}
	}
	if got := strings.Join(Metrics(`sum(rate(foo:bar{a="x{y}"}[5m] offset 1h)) without (job) > bool 1e3 and on(instance) up`), " "); got != "foo:bar up" {
		t.Errorf("metrics %q", got)
	}
}

func TestThresholdsAndTheirText(t *testing.T) {
	exps, _ := Expectations(Settings{})
	var got []string
	for _, e := range exps {
		got = append(got, e.Want())
	}
	want := "error rate > 1%, P95 latency > 500ms, slow queries > 1s, database disk > 80%, CPU > 80%, memory > 80%, disk > 85%"
	if strings.Join(got, ", ") != want {
		t.Fatalf("rows %q", strings.Join(got, ", "))
	}
	exps, _ = Expectations(Settings{Thresholds: Thresholds{ErrorRate: 0.02, P95Latency: 300 * time.Millisecond}})
	if exps[0].Want() != "error rate > 2%" || exps[1].Threshold != 0.3 {
		t.Fatalf("configured: %s, %v", exps[0].Want(), exps[1].Threshold)
	}
}

func TestCoveredByNameOrExpression(t *testing.T) {
	exps, _ := Expectations(Settings{})
	byID := map[string]Expectation{}
	for _, e := range exps {
		byID[e.ID] = e
	}
	cases := []struct {
		id, name, query string
		want            bool
	}{
		{"error_rate", "HighErrorRate", "vector(1)", true},
		{"error_rate", "HighErrorRate", "job:errors:ratio5m > 0.01", true},
		{"error_rate", "HighErrorRate", "job:errors:ratio5m > 0.05", false}, // rendered for another threshold
		{"error_rate", "Errors", `sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m])) > 0.01`, true},
		{"error_rate", "Errors", `sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m])) * 100 > 1`, true},
		{"error_rate", "Errors", `sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m])) > 0.05`, false},
		{"error_rate", "Errors", `sum(rate(grpc_requests_total[5m])) > 0.01`, false},
		{"p95_latency", "Slow", `histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m]))) > 0.5`, true},
		{"p95_latency", "Slow", `histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m]))) * 1000 > 500`, true},
		{"p95_latency", "Slow", `histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m]))) > 1`, false},
		{"disk", "Full", `node_filesystem_avail_bytes / node_filesystem_size_bytes < 0.15`, true},
		{"disk", "Full", `node_filesystem_avail_bytes / node_filesystem_size_bytes * 100 < 15`, true},
		{"disk", "Full", `node_filesystem_avail_bytes / node_filesystem_size_bytes < 0.2`, false},
		{"memory", "Mem", `1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes > 0.8`, true},
		{"memory", "Mem", `1 - node_memory_MemFree_bytes / node_memory_MemTotal_bytes > 0.8`, false},
		{"slow_query", "Q", `pg_stat_activity_max_tx_duration{state="active", datname="0.5 > 1"} > 2`, false},
	}
	for _, tc := range cases {
		if got := byID[tc.id].CoveredBy(tc.name, tc.query); got != tc.want {
			t.Errorf("%s covered by %s %q: %v, want %v", tc.id, tc.name, tc.query, got, tc.want)
		}
	}
}

func TestValidateNamesEveryBadValue(t *testing.T) {
	s := Settings{Thresholds: Thresholds{CPU: 80, SlowQuery: -time.Second}, DatabaseCapacity: "lots"}
	_, err := Generate(s)
	for _, want := range []string{"monitoring.thresholds.cpu 80 must be a fraction between 0 and 1 (0.8 is 80%)", "monitoring.thresholds.slow_query", "monitoring.database_capacity: \"lots\" is not a size"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err %v, want %q", err, want)
		}
	}
}

func TestDatabaseDiskAgainstACapacity(t *testing.T) {
	f, err := Generate(Settings{DatabaseCapacity: "100GiB", Thresholds: Thresholds{DatabaseDisk: 0.9}})
	if err != nil {
		t.Fatal(err)
	}
	got := f.Groups[0].Rules[3]
	if got.Alert != "DatabaseDiskUsage" || got.Expr != "(sum by (instance) (pg_database_size_bytes) / 107374182400) > 0.9" {
		t.Fatalf("%+v", got)
	}
	if b, _ := ParseBytes("500GB"); b != 500e9 {
		t.Fatalf("500GB = %d", b)
	}
}

func TestConfiguredQueryAndForAndDuration(t *testing.T) {
	f, _ := Generate(Settings{Env: "staging", For: 90 * time.Second, Queries: Queries{ErrorRate: `job:errors:ratio5m{job="api"}`}})
	r := f.Groups[0].Rules[0]
	if f.Groups[0].Name != "deployctl-staging" || r.Expr != `(job:errors:ratio5m{job="api"}) > 0.01` || r.For != "90s" || r.Labels["env"] != "staging" {
		t.Fatalf("%s %+v", f.Groups[0].Name, r)
	}
	for d, want := range map[time.Duration]string{time.Hour: "1h", 5 * time.Minute: "5m", 250 * time.Millisecond: "250ms"} {
		if got := PromDuration(d); got != want {
			t.Errorf("PromDuration(%v) = %s", d, got)
		}
	}
}
