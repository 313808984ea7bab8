// Package alerts turns the alert thresholds of the reference deployment
// (monitoring.thresholds) into Prometheus alerting rules: one rule per row
// of the table, as a rule file or a prometheus-operator PrometheusRule, and
// tells whether a loaded rule covers a row (for the checklist).
package alerts

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Unit is how a row's value and threshold are measured.
type Unit int

const (
	Fraction Unit = iota // 0.01 is 1 %
	Seconds
)

// Row is one row of the reference deployment's alert table.
type Row struct {
	ID       string // the key under monitoring.thresholds and monitoring.queries
	Alert    string // the rule's stable name
	Title    string // what the row measures, for people
	Unit     Unit
	Severity string
	// Summary is the annotation's text before the threshold; the value is
	// rendered by Prometheus.
	Summary string
}

// Table is the reference table, in its order.
var Table = []Row{
	{ID: "error_rate", Alert: "HighErrorRate", Title: "error rate", Unit: Fraction, Severity: "critical", Summary: "Error rate"},
	{ID: "p95_latency", Alert: "HighLatencyP95", Title: "P95 latency", Unit: Seconds, Severity: "warning", Summary: "P95 latency"},
	{ID: "slow_query", Alert: "DatabaseSlowQueries", Title: "slow queries", Unit: Seconds, Severity: "warning", Summary: "Longest running database transaction"},
	{ID: "database_disk", Alert: "DatabaseDiskUsage", Title: "database disk", Unit: Fraction, Severity: "warning", Summary: "Database disk usage"},
	{ID: "cpu", Alert: "NodeCPUHigh", Title: "CPU", Unit: Fraction, Severity: "warning", Summary: "CPU usage"},
	{ID: "memory", Alert: "NodeMemoryHigh", Title: "memory", Unit: Fraction, Severity: "warning", Summary: "Memory usage"},
	{ID: "disk", Alert: "NodeDiskUsage", Title: "disk", Unit: Fraction, Severity: "warning", Summary: "Disk usage"},
}

// Thresholds are monitoring.thresholds; a zero field takes the reference
// value (Reference).
type Thresholds struct {
	ErrorRate    float64
	P95Latency   time.Duration
	SlowQuery    time.Duration
	DatabaseDisk float64
	CPU          float64
	Memory       float64
	Disk         float64
}

// Reference are the values of the reference deployment's table.
var Reference = Thresholds{
	ErrorRate: 0.01, P95Latency: 500 * time.Millisecond, SlowQuery: time.Second,
	DatabaseDisk: 0.80, CPU: 0.80, Memory: 0.80, Disk: 0.85,
}

// Queries are monitoring.queries: per row, the PromQL of the measured value
// (a fraction, or seconds) that the rule compares with the threshold. An
// empty field takes the default (DefaultQuery).
type Queries struct {
	ErrorRate    string
	P95Latency   string
	SlowQuery    string
	DatabaseDisk string
	CPU          string
	Memory       string
	Disk         string
}

// Settings are the environment's monitoring section.
type Settings struct {
	Env        string
	Thresholds Thresholds
	Queries    Queries
	For        time.Duration // how long a value stays above before the alert fires
	RunbookURL string
	// DatabaseCapacity ("100GiB"), when set, measures the database disk as
	// pg_database_size_bytes against it; else as the node filesystem of
	// DatabaseMountpoint (the data directory's).
	DatabaseCapacity   string
	DatabaseMountpoint string
}

// DefaultFor is how long a value must stay above its threshold by default.
const DefaultFor = 5 * time.Minute

// DefaultDatabaseMountpoint is where the Debian packages keep PostgreSQL's data.
const DefaultDatabaseMountpoint = "/var/lib/postgresql"

// fsFilter leaves out the pseudo file systems node_exporter reports.
const fsFilter = `fstype!~"tmpfs|overlay|squashfs|nsfs|ramfs"`

// DefaultQuery is the row's query for demo-api's HTTP metrics,
// postgres_exporter and node_exporter.
func (s Settings) DefaultQuery(id string) (string, error) {
	switch id {
	case "error_rate":
		return `sum by (slot) (rate(http_requests_total{code=~"5.."}[5m])) / sum by (slot) (rate(http_requests_total[5m]))`, nil
	case "p95_latency":
		return `histogram_quantile(0.95, sum by (slot, le) (rate(http_request_duration_seconds_bucket[5m])))`, nil
	case "slow_query":
		return `max by (datname) (pg_stat_activity_max_tx_duration{state="active"})`, nil
	case "database_disk":
		if s.DatabaseCapacity != "" {
			b, err := ParseBytes(s.DatabaseCapacity)
			if err != nil {
				return "", fmt.Errorf("monitoring.database_capacity: %v", err)
			}
			return "sum by (instance) (pg_database_size_bytes) / " + strconv.FormatInt(b, 10), nil
		}
		mp := s.DatabaseMountpoint
		if mp == "" {
			mp = DefaultDatabaseMountpoint
		}
		sel := fmt.Sprintf("{mountpoint=%q}", mp)
		return "1 - node_filesystem_avail_bytes" + sel + " / node_filesystem_size_bytes" + sel, nil
	case "cpu":
		return `1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))`, nil
	case "memory":
		return `1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes`, nil
	case "disk":
		return "1 - node_filesystem_avail_bytes{" + fsFilter + "} / node_filesystem_size_bytes{" + fsFilter + "}", nil
	}
	return "", fmt.Errorf("no row %q in the alert table", id)
}

// threshold is the row's threshold in its unit, the reference value when unset.
func (t Thresholds) threshold(id string) float64 {
	ref := Reference
	pick := func(v, def float64) float64 {
		if v == 0 {
			return def
		}
		return v
	}
	pickD := func(v, def time.Duration) float64 {
		if v == 0 {
			v = def
		}
		return v.Seconds()
	}
	switch id {
	case "error_rate":
		return pick(t.ErrorRate, ref.ErrorRate)
	case "p95_latency":
		return pickD(t.P95Latency, ref.P95Latency)
	case "slow_query":
		return pickD(t.SlowQuery, ref.SlowQuery)
	case "database_disk":
		return pick(t.DatabaseDisk, ref.DatabaseDisk)
	case "cpu":
		return pick(t.CPU, ref.CPU)
	case "memory":
		return pick(t.Memory, ref.Memory)
	case "disk":
		return pick(t.Disk, ref.Disk)
	}
	return 0
}

func (q Queries) query(id string) string {
	switch id {
	case "error_rate":
		return q.ErrorRate
	case "p95_latency":
		return q.P95Latency
	case "slow_query":
		return q.SlowQuery
	case "database_disk":
		return q.DatabaseDisk
	case "cpu":
		return q.CPU
	case "memory":
		return q.Memory
	case "disk":
		return q.Disk
	}
	return ""
}

// Validate names every threshold out of range, as configuration errors.
func (s Settings) Validate() error {
	var probs []string
	t := s.Thresholds
	fractions := []struct {
		key string
		v   float64
	}{{"error_rate", t.ErrorRate}, {"database_disk", t.DatabaseDisk}, {"cpu", t.CPU}, {"memory", t.Memory}, {"disk", t.Disk}}
	for _, f := range fractions {
		if f.v < 0 || f.v > 1 {
			probs = append(probs, fmt.Sprintf("monitoring.thresholds.%s %v must be a fraction between 0 and 1 (0.8 is 80%%)", f.key, f.v))
		}
	}
	durations := []struct {
		key string
		v   time.Duration
	}{{"p95_latency", t.P95Latency}, {"slow_query", t.SlowQuery}}
	for _, d := range durations {
		if d.v < 0 {
			probs = append(probs, fmt.Sprintf("monitoring.thresholds.%s %v must be a positive duration such as 500ms", d.key, d.v))
		}
	}
	if s.For < 0 {
		probs = append(probs, fmt.Sprintf("monitoring.for %v must be a positive duration such as 5m", s.For))
	}
	if s.DatabaseCapacity != "" {
		if _, err := ParseBytes(s.DatabaseCapacity); err != nil {
			probs = append(probs, "monitoring.database_capacity: "+err.Error())
		}
	}
	if len(probs) > 0 {
		return fmt.Errorf("%s", strings.Join(probs, "; "))
	}
	return nil
}

// ParseBytes reads a size such as 100GiB, 500GB or 1073741824.
func ParseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	str := strings.TrimSpace(s)
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(str, u.suffix) {
			str, mult = strings.TrimSpace(strings.TrimSuffix(str, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(str, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("%q is not a size: write it like 100GiB, 500GB or a number of bytes", s)
	}
	return int64(v * mult), nil
}
