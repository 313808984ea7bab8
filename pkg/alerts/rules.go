package alerts

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// File is a Prometheus rule file (rule_files) and the spec of a PrometheusRule.
type File struct {
	Groups []Group `yaml:"groups" json:"groups"`
}

// Group is a rule group.
type Group struct {
	Name  string `yaml:"name" json:"name"`
	Rules []Rule `yaml:"rules" json:"rules"`
}

// Rule is an alerting rule.
type Rule struct {
	Alert       string            `yaml:"alert" json:"alert"`
	Expr        string            `yaml:"expr" json:"expr"`
	For         string            `yaml:"for,omitempty" json:"for,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty" json:"annotations,omitempty"`
}

// Expectation is a row of the table as the environment sets it: its
// threshold, its query and the metrics the query reads.
type Expectation struct {
	Row
	Threshold float64 // in the row's unit: a fraction, or seconds
	Query     string
	Metrics   []string
}

// Want is the row as people read it: "error rate > 1%".
func (e Expectation) Want() string { return e.Title + " > " + e.ThresholdText() }

// ThresholdText is the threshold in the table's notation: 1%, 500ms.
func (e Expectation) ThresholdText() string {
	if e.Unit == Fraction {
		return strconv.FormatFloat(math.Round(e.Threshold*100*1e6)/1e6, 'f', -1, 64) + "%"
	}
	return time.Duration(math.Round(e.Threshold * 1e9)).String()
}

// Expectations are the table's rows with the environment's thresholds and queries.
func Expectations(s Settings) ([]Expectation, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	out := make([]Expectation, 0, len(Table))
	for _, row := range Table {
		q := s.Queries.query(row.ID)
		if q == "" {
			var err error
			if q, err = s.DefaultQuery(row.ID); err != nil {
				return nil, err
			}
		}
		out = append(out, Expectation{Row: row, Threshold: s.Thresholds.threshold(row.ID), Query: q, Metrics: Metrics(q)})
	}
	return out, nil
}

// Generate returns the alerting rules of every row, in one group named
// after the environment.
func Generate(s Settings) (File, error) {
	exps, err := Expectations(s)
	if err != nil {
		return File{}, err
	}
	wait := s.For
	if wait == 0 {
		wait = DefaultFor
	}
	g := Group{Name: "deployctl"}
	if s.Env != "" {
		g.Name += "-" + s.Env
	}
	for _, e := range exps {
		g.Rules = append(g.Rules, e.rule(s, wait))
	}
	return File{Groups: []Group{g}}, nil
}

func (e Expectation) rule(s Settings, wait time.Duration) Rule {
	labels := map[string]string{"severity": e.Severity}
	if s.Env != "" {
		labels["env"] = s.Env
	}
	ann := map[string]string{"summary": fmt.Sprintf("%s is {{ $value | %s }}, above the %s threshold", e.Summary, e.humanize(), e.ThresholdText())}
	if s.RunbookURL != "" {
		ann["runbook_url"] = s.RunbookURL
	}
	return Rule{
		Alert:       e.Alert,
		Expr:        fmt.Sprintf("(%s) > %s", e.Query, strconv.FormatFloat(e.Threshold, 'g', -1, 64)),
		For:         PromDuration(wait),
		Labels:      labels,
		Annotations: ann,
	}
}

func (e Expectation) humanize() string {
	if e.Unit == Fraction {
		return "humanizePercentage"
	}
	return "humanizeDuration"
}

// PromDuration writes d as Prometheus reads durations: 5m, 90s, 1h, 250ms.
func PromDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// YAML writes the rule file behind a header saying where it comes from.
func (f File) YAML(header string) ([]byte, error) {
	return marshal(header, f)
}

// PrometheusRule is the prometheus-operator's resource (monitoring.coreos.com/v1).
type PrometheusRule struct {
	APIVersion string   `yaml:"apiVersion" json:"apiVersion"`
	Kind       string   `yaml:"kind" json:"kind"`
	Metadata   Metadata `yaml:"metadata" json:"metadata"`
	Spec       File     `yaml:"spec" json:"spec"`
}

// Metadata is the PrometheusRule's object metadata.
type Metadata struct {
	Name      string            `yaml:"name" json:"name"`
	Namespace string            `yaml:"namespace,omitempty" json:"namespace,omitempty"`
	Labels    map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
}

// Kubernetes wraps the rules in a PrometheusRule.
func (f File) Kubernetes(meta Metadata) PrometheusRule {
	return PrometheusRule{APIVersion: "monitoring.coreos.com/v1", Kind: "PrometheusRule", Metadata: meta, Spec: f}
}

// YAML writes the PrometheusRule behind a header.
func (p PrometheusRule) YAML(header string) ([]byte, error) { return marshal(header, p) }

func marshal(header string, v any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(header)
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
