package render

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/config"
	"github.com/deployctl/deployctl/pkg/alerts"
	"github.com/deployctl/deployctl/pkg/provider/kubernetes"
)

// AlertsOptions are the options of render alerts.
type AlertsOptions struct {
	Factory   *app.Factory
	Output    string // rules | kubernetes | json
	Name      string
	Namespace string
	Labels    map[string]string
}

// NewCmdAlerts returns the render alerts command.
func NewCmdAlerts(f *app.Factory, runF func(*AlertsOptions) error) *cobra.Command {
	opts := &AlertsOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "alerts",
		Short: "Write Prometheus alerting rules for monitoring.thresholds",
		Long: `Write one Prometheus alerting rule per row of the reference deployment's
alert table, with the environment's monitoring.thresholds: error rate > 1%,
P95 latency > 500ms, slow queries > 1s, database disk > 80%, CPU > 80%,
memory > 80%, disk > 85%. Each rule compares monitoring.queries.<row> (by
default demo-api's HTTP metrics, postgres_exporter and node_exporter) with
its threshold for monitoring.for, and carries severity and env labels, a
summary with the value and the threshold, and monitoring.runbook_url.

-o rules (the default) writes a rule file for Prometheus's rule_files;
-o kubernetes a PrometheusRule for the prometheus-operator (namespace: the
traffic.kubernetes namespace unless --namespace); -o json the rule file as
JSON. deployctl checklist then checks Prometheus has loaded them
(docs/monitoring.md).`,
		Example: `  deployctl render alerts -e production > /etc/prometheus/rules/api.yml && promtool check rules /etc/prometheus/rules/api.yml
  deployctl render alerts -e production -o kubernetes --label release=prometheus | kubectl apply -f -`,
		Args: app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return alertsRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.Output, "output", "o", "rules", "output format: rules|kubernetes|json")
	fl.StringVar(&opts.Name, "name", "", "with -o kubernetes: the PrometheusRule's `NAME` (default deployctl-<env>)")
	fl.StringVar(&opts.Namespace, "namespace", "", "with -o kubernetes: its `NAMESPACE` (default traffic.kubernetes.namespace)")
	fl.StringToStringVar(&opts.Labels, "label", nil, "with -o kubernetes: a `KEY=VALUE` label the operator's ruleSelector wants (repeatable)")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"rules", "kubernetes", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (o *AlertsOptions) validate() error {
	switch o.Output {
	case "rules", "kubernetes", "json":
	default:
		return app.Usagef("invalid --output %q: use rules, kubernetes or json", o.Output)
	}
	if o.Output != "kubernetes" && (o.Name != "" || o.Namespace != "" || len(o.Labels) > 0) {
		return app.Usagef("--name, --namespace and --label shape the PrometheusRule: add -o kubernetes")
	}
	return nil
}

// alertSettings are the environment's monitoring section for pkg/alerts.
func alertSettings(cfg *config.Loaded) alerts.Settings {
	m := cfg.Monitoring
	return alerts.Settings{Env: cfg.Env, Thresholds: alerts.Thresholds(m.Thresholds), Queries: alerts.Queries(m.Queries),
		For: m.For, RunbookURL: m.RunbookURL, DatabaseCapacity: m.DatabaseCapacity, DatabaseMountpoint: m.DatabaseMountpoint}
}

func alertsRun(opts *AlertsOptions) error {
	f := opts.Factory
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	rules, err := alerts.Generate(alertSettings(cfg))
	if err != nil {
		return app.Usagef("%s: %v", cfg.File, err)
	}
	header := fmt.Sprintf("# Alerting rules for %s from monitoring.thresholds in %s,\n# written by `deployctl render alerts`: change the environment file and render again.\n", cfg.Env, cfg.File)
	var out []byte
	switch opts.Output {
	case "json":
		return f.IO.JSON(rules)
	case "kubernetes":
		meta, err := opts.metadata(cfg)
		if err != nil {
			return err
		}
		out, err = rules.Kubernetes(meta).YAML(header)
		if err != nil {
			return err
		}
	default:
		if out, err = rules.YAML(header); err != nil {
			return err
		}
	}
	_, err = f.IO.Out.Write(out)
	return err
}

func (o *AlertsOptions) metadata(cfg *config.Loaded) (alerts.Metadata, error) {
	meta := alerts.Metadata{Name: o.Name, Namespace: o.Namespace, Labels: map[string]string{"app.kubernetes.io/managed-by": "deployctl"}}
	if meta.Name == "" {
		meta.Name = "deployctl-" + cfg.Env
	}
	if meta.Namespace == "" && cfg.Traffic.Provider == "kubernetes" {
		var s kubernetes.Settings
		if err := cfg.Decode("traffic.kubernetes", &s); err != nil {
			return meta, err
		}
		meta.Namespace = s.Namespace
	}
	for k, v := range o.Labels {
		meta.Labels[k] = v
	}
	return meta, nil
}
