package config

import (
	"fmt"
	"net/url"
	"strings"
)

// Defaults are the values of keys an environment file leaves out.
func Defaults() map[string]any {
	return map[string]any{
		"variables.schema":              "variables.yaml",
		"database.url_from":             "DATABASE_URL",
		"migrations.dir":                "migrations",
		"state.dir":                     ".deployctl",
		"traffic.provider":              "local",
		"traffic.local.listen":          "127.0.0.1:8080",
		"traffic.local.fast_path":       true,
		"traffic.local.event_loops":     "auto",
		"traffic.local.slots.blue.url":  "http://127.0.0.1:3001",
		"traffic.local.slots.green.url": "http://127.0.0.1:3002",
		"traffic.kubernetes.mode":       "gateway",
		"health.path":                   "/health",
		"health.readiness_path":         "/health/readiness",
		"health.timeout":                "5s",
		"analysis.error_rate_max":       0.01,
		"analysis.p95_max":              "500ms",
		"analysis.interval":             "30s",
		"backup.storage.provider":       "file",
		"backup.storage.path":           "backups",
		"backup.retention.daily":        7,
		"backup.retention.weekly":       4,
		"backup.retention.monthly":      6,
		"maintenance.page":              "templates/maintenance.html",
		"checklist.timeout":             "10m",
		"checklist.performance.max_age": "14d",
		"checklist.tests.max_age":       "24h",
		"checklist.rollback.runbook":    "docs/runbook.md",
		"checklist.backups.max_age":     "26h",
	}
}

var trafficProviders = []string{"local", "kubernetes", "aws-alb"}
var storageProviders = []string{"file", "s3"}

func (c *Config) validate() error {
	var probs []string
	if !oneOf(c.Traffic.Provider, trafficProviders) {
		probs = append(probs, fmt.Sprintf("traffic.provider %q is not one of %s", c.Traffic.Provider, strings.Join(trafficProviders, ", ")))
	}
	if !oneOf(c.Backup.Storage.Provider, storageProviders) {
		probs = append(probs, fmt.Sprintf("backup.storage.provider %q is not one of %s", c.Backup.Storage.Provider, strings.Join(storageProviders, ", ")))
	}
	if c.Traffic.Provider == "local" {
		for name, u := range map[string]string{"blue": c.Traffic.Local.Slots.Blue.URL, "green": c.Traffic.Local.Slots.Green.URL} {
			if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
				probs = append(probs, fmt.Sprintf("traffic.local.slots.%s.url %q must be an http(s) URL", name, u))
			}
		}
	}
	if c.Analysis.ErrorRateMax < 0 || c.Analysis.ErrorRateMax > 1 {
		probs = append(probs, fmt.Sprintf("analysis.error_rate_max %v must be a fraction between 0 and 1 (0.01 is 1%%)", c.Analysis.ErrorRateMax))
	}
	if len(probs) > 0 {
		return fmt.Errorf("%s", strings.Join(probs, "; "))
	}
	return nil
}

func oneOf(s string, list []string) bool {
	for _, x := range list {
		if s == x {
			return true
		}
	}
	return false
}
