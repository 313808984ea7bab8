package checklist

import (
	"context"
	"time"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/config"
	"github.com/deployctl/deployctl/pkg/alerts"
	"github.com/deployctl/deployctl/pkg/analysis/prometheus"
	"github.com/deployctl/deployctl/pkg/checklist"
)

// newRunner builds the seven checks from the environment's configuration.
// Nothing is connected here: each check reaches its dependency when it runs.
func newRunner(ctx context.Context, f *app.Factory) (*checklist.Runner, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	c := cfg.Checklist
	waivers, err := checklist.ParseWaivers(waiverSpecs(c.Waivers))
	if err != nil {
		return nil, errConfig(cfg.File, err)
	}
	shell := checklist.Shell{Dir: cfg.BaseDir, Env: f.Environ(), Now: f.Now}
	commit := checklist.GitCommit(cfg.BaseDir)
	migs := &migrationsEvidence{f: f, cfg: cfg}
	checks := []checklist.Check{
		checklist.CommandCheck{ID: checklist.Tests, Run: c.Tests.Run, JUnit: optPath(cfg, c.Tests.JUnit), MaxAge: c.Tests.MaxAge, Shell: shell, Commit: commit, Now: f.Now}.Check(),
		checklist.CommandCheck{ID: checklist.Security, Run: c.Security.Run, JUnit: optPath(cfg, c.Security.JUnit), MaxAge: c.Security.MaxAge, Shell: shell, Commit: commit, Now: f.Now}.Check(),
		checklist.PerformanceCheck{Run: c.Performance.Run, Summary: optPath(cfg, c.Performance.Summary), MaxAge: c.Performance.MaxAge,
			ErrorRateMax: orDefault(cfg.Analysis.ErrorRateMax, prometheus.DefaultErrorRateMax), P95Max: orDefaultD(cfg.Analysis.P95Max, prometheus.DefaultP95Max),
			Shell: shell, Now: f.Now}.Check(),
		checklist.MigrationsCheck{Evidence: migs, Now: f.Now}.Check(),
		checklist.RollbackCheck{Runbook: cfg.Path(c.Rollback.Runbook), RunbookName: c.Rollback.Runbook, Migrations: migs, Standby: &standbyProbe{f: f}}.Check(),
		checklist.MonitoringCheck{URL: monitoringURL(cfg), Alerts: c.Monitoring.Alerts, Monitoring: alertSettings(cfg), Now: f.Now}.Check(),
		checklist.BackupsCheck{Evidence: &backupEvidence{f: f}, WAL: &walEvidence{f: f}, WALMaxAge: c.Backups.WALMaxAge, Where: f.StorageName(), MaxAge: c.Backups.MaxAge, Now: f.Now}.Check(),
	}
	r := &checklist.Runner{Checks: checks, Waivers: waivers, Timeout: c.Timeout, Now: f.Now, History: f.Recorder()}
	if f.Flags.DryRun { // the checks run (they change nothing); the history is not written
		r.History = nil
	}
	return r, nil
}

func waiverSpecs(ws []config.Waiver) []checklist.WaiverSpec {
	out := make([]checklist.WaiverSpec, len(ws))
	for i, w := range ws {
		out[i] = checklist.WaiverSpec{ID: w.ID, Reason: w.Reason, Expires: w.Expires}
	}
	return out
}

func optPath(cfg *config.Loaded, p string) string {
	if p == "" {
		return ""
	}
	return cfg.Path(p)
}

// alertSettings are the environment's monitoring section: the rows of the
// alert table the monitoring check wants covered (as render alerts writes them).
func alertSettings(cfg *config.Loaded) alerts.Settings {
	m := cfg.Monitoring
	return alerts.Settings{Env: cfg.Env, Thresholds: alerts.Thresholds(m.Thresholds), Queries: alerts.Queries(m.Queries),
		For: m.For, RunbookURL: m.RunbookURL, DatabaseCapacity: m.DatabaseCapacity, DatabaseMountpoint: m.DatabaseMountpoint}
}

// monitoringURL is checklist.monitoring.prometheus_url, else the analysis
// Prometheus: usually the same server.
func monitoringURL(cfg *config.Loaded) string {
	if u := cfg.Checklist.Monitoring.PrometheusURL; u != "" {
		return u
	}
	return cfg.Analysis.PrometheusURL
}

func orDefault(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}

func orDefaultD(v, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return v
}
