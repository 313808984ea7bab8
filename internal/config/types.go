package config

import "time"

// Config is one environment's typed configuration. The mapstructure tags are
// the keys of the environment file and, upper-cased with dots and dashes as
// underscores behind DEPLOYCTL_, of the environment variables.
type Config struct {
	Env     string `mapstructure:"-"`
	Dir     string `mapstructure:"-"` // the config dir (environments/)
	BaseDir string `mapstructure:"-"` // relative paths resolve against it: the config dir's parent
	File    string `mapstructure:"-"`

	Variables   Variables   `mapstructure:"variables"`
	Database    Database    `mapstructure:"database"`
	Migrations  Migrations  `mapstructure:"migrations"`
	State       State       `mapstructure:"state"`
	Traffic     Traffic     `mapstructure:"traffic"`
	Health      Health      `mapstructure:"health"`
	Analysis    Analysis    `mapstructure:"analysis"`
	Backup      Backup      `mapstructure:"backup"`
	Maintenance Maintenance `mapstructure:"maintenance"`
	Checklist   Checklist   `mapstructure:"checklist"`
	// Monitoring: the alert thresholds and what each measures (render alerts).
	Monitoring Monitoring `mapstructure:"monitoring"`
	// DNS: the failover record set of zone failover (deployctl dns, docs/dr.md).
	DNS DNS `mapstructure:"dns"`
	// Notify: where events (release failed, maintenance on, …) are sent (docs/notify.md).
	Notify NotifyConfig `mapstructure:"notify"`
	// Protected asks for the environment's name to be typed (or --yes
	// --confirm ENV) before a destructive or traffic-changing command
	// (deployctl help confirmations).
	Protected bool `mapstructure:"protected"`
}

type Variables struct {
	Schema  string           `mapstructure:"schema"`
	Sources []map[string]any `mapstructure:"sources"` // each has "type"; the rest is the source's own settings
}

type Database struct {
	URL     string `mapstructure:"url"`
	URLFrom string `mapstructure:"url_from"`
	// Replicas for db status: each a URL, or the name of a variable holding one.
	Replicas []string `mapstructure:"replicas"`
}

type Migrations struct {
	Dir string `mapstructure:"dir"`
	// StatementLockTimeout is PostgreSQL's lock_timeout for the statements
	// of migrate up/down/redo: a statement that waits longer for a lock
	// fails, naming the blocker (0: wait without limit).
	StatementLockTimeout time.Duration `mapstructure:"statement_lock_timeout"`
}

type State struct {
	Dir string `mapstructure:"dir"`
}

// Traffic chooses the traffic provider. Its settings, under
// traffic.<provider>, belong to the provider family that answers to the
// name (provider.Family.TrafficConfig).
type Traffic struct {
	Provider string `mapstructure:"provider"`
}

type Health struct {
	Path          string        `mapstructure:"path"`
	ReadinessPath string        `mapstructure:"readiness_path"`
	Timeout       time.Duration `mapstructure:"timeout"`
}

type Analysis struct {
	PrometheusURL  string        `mapstructure:"prometheus_url"`
	ErrorRateMax   float64       `mapstructure:"error_rate_max"`
	P95Max         time.Duration `mapstructure:"p95_max"`
	Interval       time.Duration `mapstructure:"interval"`
	ErrorRateQuery string        `mapstructure:"error_rate_query"`
	P95Query       string        `mapstructure:"p95_query"`
}

type Backup struct {
	Storage    Storage    `mapstructure:"storage"`
	VerifyURL  string     `mapstructure:"verify_url"`
	Retention  Retention  `mapstructure:"retention"`
	Encryption Encryption `mapstructure:"encryption"`
	WAL        WAL        `mapstructure:"wal"`
}

// WAL tunes wal push as archive_command (pkg/wal.Ahead).
type WAL struct {
	// PushAhead is how many more ready WAL files one push archives beside
	// the one PostgreSQL asked for (0: only that one).
	PushAhead int `mapstructure:"push_ahead"`
	// Parallel is how many files a push compresses and writes at once.
	Parallel int `mapstructure:"parallel"`
	// Spool is the folder of markers of files archived ahead; empty: the
	// user's cache folder (~/.cache/deployctl/wal-spool).
	Spool string `mapstructure:"spool"`
}

// Storage chooses the backup store (file, s3); the rest of the section
// belongs to the provider family that answers to the name
// (provider.Family.StorageConfig).
type Storage struct {
	Provider string `mapstructure:"provider"`
	// Copies are more stores that hold every backup object and WAL file
	// too (geo-redundant copies), each a mapping like backup.storage itself:
	// provider and that provider's settings.
	Copies []map[string]any `mapstructure:"copies"`
	// MinCopies is in how many stores (backup.storage counts as one) an
	// object must be for a write to succeed; 0: all of them.
	MinCopies int `mapstructure:"min_copies"`
	// StallTimeout is how long a write waits on one of several stores that
	// takes no data before it gives that store up (copies.Store.Stall).
	StallTimeout time.Duration `mapstructure:"stall_timeout"`
}

type Retention struct {
	Daily   int `mapstructure:"daily"`
	Weekly  int `mapstructure:"weekly"`
	Monthly int `mapstructure:"monthly"`
}

type Encryption struct {
	Recipients   []string `mapstructure:"recipients"`    // age public keys
	IdentityFile string   `mapstructure:"identity_file"` // age identities, for verify and restore
}

type Maintenance struct {
	Page   string   `mapstructure:"page"`
	Allow  []string `mapstructure:"allow"`
	Notify Notify   `mapstructure:"notify"`
}

type Notify struct {
	To   []string `mapstructure:"to"`
	From string   `mapstructure:"from"`
}

// NotifyConfig is the top-level notify: section: the targets of events and
// how long each delivery may take (its one retry included).
type NotifyConfig struct {
	Targets []NotifyTarget `mapstructure:"targets"`
	Timeout time.Duration  `mapstructure:"timeout"`
}

// NotifyTarget is one webhook, slack or email target. url_from and
// secret_from name variables of the environment's variable sources.
type NotifyTarget struct {
	Name       string   `mapstructure:"name"`
	Type       string   `mapstructure:"type"`
	URL        string   `mapstructure:"url"`
	URLFrom    string   `mapstructure:"url_from"`
	SecretFrom string   `mapstructure:"secret_from"`
	Events     []string `mapstructure:"events"` // empty: all
	To         []string `mapstructure:"to"`
	From       string   `mapstructure:"from"` // empty: maintenance.notify.from
}

type Checklist struct {
	Timeout     time.Duration    `mapstructure:"timeout"`
	Tests       CommandCheck     `mapstructure:"tests"`
	Security    CommandCheck     `mapstructure:"security"`
	Performance PerformanceCheck `mapstructure:"performance"`
	Rollback    RollbackCheck    `mapstructure:"rollback"`
	Monitoring  MonitoringCheck  `mapstructure:"monitoring"`
	Backups     BackupsCheck     `mapstructure:"backups"`
	Waivers     []Waiver         `mapstructure:"waivers"`
}

type CommandCheck struct {
	Run    string        `mapstructure:"run"`
	JUnit  string        `mapstructure:"junit"`
	MaxAge time.Duration `mapstructure:"max_age"`
}

type PerformanceCheck struct {
	Run     string        `mapstructure:"run"`
	Summary string        `mapstructure:"summary"`
	MaxAge  time.Duration `mapstructure:"max_age"`
}

type RollbackCheck struct {
	Runbook string `mapstructure:"runbook"`
}

type MonitoringCheck struct {
	PrometheusURL string   `mapstructure:"prometheus_url"`
	Alerts        []string `mapstructure:"alerts"`
}

type BackupsCheck struct {
	MaxAge time.Duration `mapstructure:"max_age"`
	// WALMaxAge: with a WAL archive in the storage, its newest segment must
	// be younger (the reference deployment's transaction log backups every
	// 15 minutes).
	WALMaxAge time.Duration `mapstructure:"wal_max_age"`
}

type Waiver struct {
	ID      string `mapstructure:"id"`
	Reason  string `mapstructure:"reason"`
	Expires string `mapstructure:"expires"`
}

// Monitoring is the reference deployment's alert table: deployctl render
// alerts writes one Prometheus rule per threshold, and the checklist checks
// Prometheus has them (docs/monitoring.md).
type Monitoring struct {
	Thresholds MonitoringThresholds `mapstructure:"thresholds"`
	// Queries are the PromQL of each measured value (a fraction, or
	// seconds); empty: the default for demo-api, postgres_exporter and
	// node_exporter.
	Queries    MonitoringQueries `mapstructure:"queries"`
	For        time.Duration     `mapstructure:"for"`
	RunbookURL string            `mapstructure:"runbook_url"`
	// DatabaseCapacity (e.g. 100GiB) measures the database disk as
	// pg_database_size_bytes against it; empty: the node filesystem of
	// DatabaseMountpoint.
	DatabaseCapacity   string `mapstructure:"database_capacity"`
	DatabaseMountpoint string `mapstructure:"database_mountpoint"`
}

// MonitoringThresholds: fractions (0.01 is 1%) and durations.
type MonitoringThresholds struct {
	ErrorRate    float64       `mapstructure:"error_rate"`
	P95Latency   time.Duration `mapstructure:"p95_latency"`
	SlowQuery    time.Duration `mapstructure:"slow_query"`
	DatabaseDisk float64       `mapstructure:"database_disk"`
	CPU          float64       `mapstructure:"cpu"`
	Memory       float64       `mapstructure:"memory"`
	Disk         float64       `mapstructure:"disk"`
}

type MonitoringQueries struct {
	ErrorRate    string `mapstructure:"error_rate"`
	P95Latency   string `mapstructure:"p95_latency"`
	SlowQuery    string `mapstructure:"slow_query"`
	DatabaseDisk string `mapstructure:"database_disk"`
	CPU          string `mapstructure:"cpu"`
	Memory       string `mapstructure:"memory"`
	Disk         string `mapstructure:"disk"`
}

// DNS chooses the DNS provider of zone failover (route53; empty: none).
type DNS struct {
	Provider string     `mapstructure:"provider"`
	Route53  DNSRoute53 `mapstructure:"route53"`
}

// DNSRoute53 is the dns.route53 section, decoded by pkg/provider/aws/route53
// into its Settings (the same keys).
type DNSRoute53 struct {
	Region       string        `mapstructure:"region"`
	Endpoint     string        `mapstructure:"endpoint"`
	HostedZoneID string        `mapstructure:"hosted_zone_id"`
	Record       string        `mapstructure:"record"`
	Type         string        `mapstructure:"type"`
	CallTimeout  time.Duration `mapstructure:"call_timeout"`
}
