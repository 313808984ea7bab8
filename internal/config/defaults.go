package config

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/deployctl/deployctl/pkg/provider"
)

// Defaults are the values of keys an environment file leaves out: the
// sections of deployctl itself, then those of the registry's families.
func Defaults(reg *provider.Registry) map[string]any {
	out := providerDefaults(reg)
	for k, v := range ownDefaults() {
		out[k] = v
	}
	return out
}

func ownDefaults() map[string]any {
	return map[string]any{
		"variables.schema":              "variables.yaml",
		"database.url_from":             "DATABASE_URL",
		"migrations.dir":                "migrations",
		"state.dir":                     ".deployctl",
		"traffic.provider":              "local",
		"health.path":                   "/health",
		"health.readiness_path":         "/health/readiness",
		"health.timeout":                "5s",
		"analysis.error_rate_max":       0.01,
		"analysis.p95_max":              "500ms",
		"analysis.interval":             "30s",
		"backup.storage.provider":       "file",
		"backup.storage.stall_timeout":  "30s",
		"backup.retention.daily":        7,
		"backup.retention.weekly":       4,
		"backup.retention.monthly":      6,
		"backup.wal.push_ahead":         8,
		"backup.wal.parallel":           2,
		"maintenance.page":              "templates/maintenance.html",
		"checklist.timeout":             "10m",
		"checklist.performance.max_age": "14d",
		"checklist.tests.max_age":       "24h",
		"checklist.rollback.runbook":    "docs/runbook.md",
		"checklist.backups.max_age":     "26h",
		"checklist.backups.wal_max_age": "15m",

		// The reference deployment's alert table (render alerts).
		"monitoring.thresholds.error_rate":    0.01,
		"monitoring.thresholds.p95_latency":   "500ms",
		"monitoring.thresholds.slow_query":    "1s",
		"monitoring.thresholds.database_disk": 0.80,
		"monitoring.thresholds.cpu":           0.80,
		"monitoring.thresholds.memory":        0.80,
		"monitoring.thresholds.disk":          0.85,
		"monitoring.for":                      "5m",
		"monitoring.database_mountpoint":      "/var/lib/postgresql",

		// PostgreSQL's lock_timeout for migration statements.
		"migrations.statement_lock_timeout": "10s",

		// Each notification target's delivery, its retry included (notify).
		"notify.timeout": "5s",
	}
}

// providerDefaults are the defaults of the sections provider families own,
// from the non-zero fields of their new settings values.
func providerDefaults(reg *provider.Registry) map[string]any {
	out := map[string]any{}
	for _, sec := range providerSections(reg) {
		walk(sec.prefix, reflect.ValueOf(sec.Settings()), func(key string, v reflect.Value) {
			if !v.IsZero() {
				out[key] = v.Interface()
			}
		})
	}
	return out
}

// A providerSection is a provider-owned section and the key it lives under.
type providerSection struct {
	prefix string
	*provider.Section
}

func providerSections(reg *provider.Registry) []providerSection {
	var out []providerSection
	for _, s := range reg.TrafficSections() {
		out = append(out, providerSection{"traffic." + s.Name, s})
	}
	for _, s := range reg.StorageSections() {
		out = append(out, providerSection{"backup.storage", s})
	}
	return out
}

func (l *Loaded) validate(reg *provider.Registry) error {
	var probs []string
	traffic, err := reg.TrafficProvider(l.Traffic.Provider)
	if err != nil {
		probs = append(probs, err.Error())
	} else if err := l.validateSection("traffic."+l.Traffic.Provider, traffic.TrafficConfig); err != nil {
		probs = append(probs, err.Error())
	}
	storage, err := reg.StorageProvider(l.Backup.Storage.Provider)
	if err != nil {
		probs = append(probs, err.Error())
	} else if err := l.validateSection("backup.storage", storage.StorageConfig); err != nil {
		probs = append(probs, err.Error())
	}
	probs = append(probs, l.validateCopies(reg)...)
	probs = append(probs, l.validateNotify()...)
	if l.Analysis.ErrorRateMax < 0 || l.Analysis.ErrorRateMax > 1 {
		probs = append(probs, fmt.Sprintf("analysis.error_rate_max %v must be a fraction between 0 and 1 (0.01 is 1%%)", l.Analysis.ErrorRateMax))
	}
	if len(probs) > 0 {
		return fmt.Errorf("%s", strings.Join(probs, "; "))
	}
	return nil
}

// validateSection decodes the chosen provider's section and lets its
// settings check themselves.
func (l *Loaded) validateSection(key string, sec *provider.Section) error {
	s := sec.Settings()
	if err := l.decode(key, s); err != nil {
		return fmt.Errorf("section %s: %v; fix the value or remove the DEPLOYCTL_ override", key, err)
	}
	if v, ok := s.(provider.Validator); ok {
		return v.Validate()
	}
	return nil
}
