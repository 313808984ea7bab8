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
}

type State struct {
	Dir string `mapstructure:"dir"`
}

type Traffic struct {
	Provider   string            `mapstructure:"provider"`
	Local      LocalTraffic      `mapstructure:"local"`
	Kubernetes KubernetesTraffic `mapstructure:"kubernetes"`
	AWSALB     AWSALBTraffic     `mapstructure:"aws-alb"`
}

type LocalTraffic struct {
	Listen string `mapstructure:"listen"`
	Sticky bool   `mapstructure:"sticky"`
	// FastPath forwards plain HTTP/1.1 requests without net/http (false:
	// every request through httputil.ReverseProxy).
	FastPath bool `mapstructure:"fast_path"`
	// EventLoops: auto (one per CPU, Linux), off (a goroutine per
	// connection) or a number of loops.
	EventLoops string   `mapstructure:"event_loops"`
	Slots      URLSlots `mapstructure:"slots"`
}

type URLSlots struct {
	Blue  URLSlot `mapstructure:"blue"`
	Green URLSlot `mapstructure:"green"`
}

type URLSlot struct {
	URL string `mapstructure:"url"`
}

type KubernetesTraffic struct {
	Kubeconfig         string    `mapstructure:"kubeconfig"`
	Context            string    `mapstructure:"context"`
	Namespace          string    `mapstructure:"namespace"`
	Mode               string    `mapstructure:"mode"` // gateway (default) | service
	Route              string    `mapstructure:"route"`
	Service            string    `mapstructure:"service"` // mode service: the Service whose selector switches
	Slots              KubeSlots `mapstructure:"slots"`
	MaintenanceService string    `mapstructure:"maintenance_service"`
}

type KubeSlots struct {
	Blue  KubeSlot `mapstructure:"blue"`
	Green KubeSlot `mapstructure:"green"`
}

type KubeSlot struct {
	Service    string `mapstructure:"service"`
	Deployment string `mapstructure:"deployment"`
}

type AWSALBTraffic struct {
	Region      string   `mapstructure:"region"`
	Endpoint    string   `mapstructure:"endpoint"`
	ListenerARN string   `mapstructure:"listener_arn"`
	RuleARN     string   `mapstructure:"rule_arn"`
	Slots       ALBSlots `mapstructure:"slots"`
	State       ALBState `mapstructure:"state"`      // optional: lock, state and history in S3 instead of state.dir
	PassPaths   []string `mapstructure:"pass_paths"` // reach the app during maintenance; default /health, /health/readiness
}

type ALBState struct {
	Bucket    string `mapstructure:"bucket"`
	Prefix    string `mapstructure:"prefix"`
	Region    string `mapstructure:"region"`
	Endpoint  string `mapstructure:"endpoint"`
	PathStyle bool   `mapstructure:"path_style"`
}

type ALBSlots struct {
	Blue  ALBSlot `mapstructure:"blue"`
	Green ALBSlot `mapstructure:"green"`
}

type ALBSlot struct {
	TargetGroupARN string `mapstructure:"target_group_arn"`
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
}

type Storage struct {
	Provider  string `mapstructure:"provider"` // file | s3
	Path      string `mapstructure:"path"`
	Bucket    string `mapstructure:"bucket"`
	Prefix    string `mapstructure:"prefix"`
	Region    string `mapstructure:"region"`
	Endpoint  string `mapstructure:"endpoint"`
	PathStyle bool   `mapstructure:"path_style"`
	SSE       string `mapstructure:"sse"` // "", AES256, aws:kms
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
}

type Waiver struct {
	ID      string `mapstructure:"id"`
	Reason  string `mapstructure:"reason"`
	Expires string `mapstructure:"expires"`
}
