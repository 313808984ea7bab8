package checklist

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
)

// migrations is a MigrationsEvidence from fixed values; the adapters over
// the migrate engine are tested against PostgreSQL in internal/cli/checklist.
type migrations struct {
	set       MigrationSet
	rehearsed map[string]*Rehearsal
	err       error
}

func (m migrations) Pending(context.Context) (MigrationSet, error) { return m.set, m.err }
func (m migrations) Rehearsal(_ context.Context, hash string) (*Rehearsal, error) {
	return m.rehearsed[hash], nil
}

func TestMigrationsCheck(t *testing.T) {
	pending := []Migration{{Version: 5, Name: "00005_orders.sql", HasDown: true}, {Version: 6, Name: "00006_index.sql", HasDown: true}}
	ok := map[string]*Rehearsal{"h2": {At: t0.Add(-time.Hour), OK: true, Took: 1500 * time.Millisecond}}
	lint := append([]Migration{}, pending...)
	lint[1].Findings = []string{"CREATE INDEX without CONCURRENTLY (line 3)"}
	cases := []struct {
		name   string
		ev     MigrationsEvidence
		status Status
		want   string
	}{
		{"up to date", migrations{set: MigrationSet{Hash: "h1", Current: 4}}, Pass, "no pending migrations (database at version 4)"},
		{"rehearsed", migrations{set: MigrationSet{Hash: "h2", Current: 4, Pending: pending}, rehearsed: ok}, Pass, "migrations 5 and 6 rehearsed for this set, lint clean"},
		{"set changed since", migrations{set: MigrationSet{Hash: "h3", Current: 4, Pending: pending}, rehearsed: ok}, Fail, "migrations 5 and 6 not rehearsed for this set"},
		{"rehearsal failed", migrations{set: MigrationSet{Hash: "h2", Pending: pending}, rehearsed: map[string]*Rehearsal{"h2": {OK: false, Detail: "00006: relation exists"}}}, Fail, "the rehearsal failed"},
		{"lint", migrations{set: MigrationSet{Hash: "h2", Pending: lint}, rehearsed: ok}, Fail, "1 lint finding(s)"},
		{"database down", migrations{err: errors.New("cannot reach the database: connection refused")}, Fail, "cannot read the pending migrations: cannot reach the database"},
		{"no migrations", nil, Skip, "no migrations configured"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := MigrationsCheck{Evidence: tc.ev, Now: fixed(t0)}.run(t.Context())
			if o.Status != tc.status || !strings.Contains(o.Summary, tc.want) {
				t.Fatalf("got %s %q, want %s %q\n%v", o.Status, o.Summary, tc.status, tc.want, o.Evidence)
			}
			if tc.status == Fail && o.Fix == "" {
				t.Error("no fix")
			}
		})
	}
}

type standby struct {
	st  provider.SlotStatus
	err error
}

func (s standby) Standby(context.Context) (provider.SlotStatus, error) { return s.st, s.err }

func TestRollbackCheck(t *testing.T) {
	dir := t.TempDir()
	runbook := filepath.Join(dir, "runbook.md")
	write(t, runbook, "# Rollback\n\n1. deployctl rollout abort\n")
	empty := filepath.Join(dir, "empty.md")
	write(t, empty, "  \n\n")
	healthy := standby{st: provider.SlotStatus{Slot: provider.Green, Ready: true, Version: "1.4.2"}}
	reversible := migrations{set: MigrationSet{Pending: []Migration{
		{Version: 7, Name: "00007_a.sql", HasDown: true},
		{Version: 8, Name: "00008_drop.sql", Irreversible: true, IrreversibleReason: "drops a column; restore from backup"},
	}}}
	oneWay := migrations{set: MigrationSet{Pending: []Migration{
		{Version: 7, Name: "00007_a.sql"},
		{Version: 8, Name: "00008_drop.sql", Irreversible: true},
	}}}
	cases := []struct {
		name   string
		c      RollbackCheck
		status Status
		want   string
	}{
		{"all good", RollbackCheck{Runbook: runbook, Migrations: reversible, Standby: healthy}, Pass, "runbook present, every pending migration reversible, standby healthy"},
		{"no runbook", RollbackCheck{Runbook: filepath.Join(dir, "none.md"), RunbookName: "docs/runbook.md", Standby: healthy}, Fail, "no runbook at docs/runbook.md"},
		{"empty runbook", RollbackCheck{Runbook: empty, Standby: healthy}, Fail, "is empty"},
		{"no down", RollbackCheck{Runbook: runbook, Migrations: oneWay, Standby: healthy}, Fail, "no down section: 00007_a.sql, 00008_drop.sql (irreversible without a reason)"},
		{"standby down", RollbackCheck{Runbook: runbook, Standby: standby{st: provider.SlotStatus{Slot: provider.Blue, Detail: "connection refused"}}}, Fail, "the standby slot blue is not healthy"},
		{"standby unknown", RollbackCheck{Runbook: runbook, Standby: standby{err: errors.New("proxy state unreadable")}}, Fail, "cannot probe the standby slot: proxy state unreadable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.c.run(t.Context())
			if o.Status != tc.status || !strings.Contains(o.Summary, tc.want) {
				t.Fatalf("got %s %q, want %s %q\n%v", o.Status, o.Summary, tc.status, tc.want, o.Evidence)
			}
			if tc.status == Fail && o.Fix == "" {
				t.Error("no fix")
			}
		})
	}
	o := RollbackCheck{Runbook: runbook, Migrations: reversible, Standby: healthy}.run(t.Context())
	ev := strings.Join(o.Evidence, "\n")
	for _, w := range []string{"read " + runbook + ": 3 lines", "00008_drop.sql is irreversible: drops a column", "standby slot green: ready, version 1.4.2"} {
		if !strings.Contains(ev, w) {
			t.Errorf("evidence lacks %q:\n%s", w, ev)
		}
	}
}

type backups struct {
	b   *Backup
	err error
}

func (b backups) Newest(context.Context) (*Backup, error) { return b.b, b.err }

func TestBackupsCheck(t *testing.T) {
	made := t0.Add(-3 * time.Hour)
	verified := func(level string, ok bool) *Verification {
		return &Verification{Level: level, OK: ok, At: made.Add(10 * time.Minute), Detail: "rows match"}
	}
	cases := []struct {
		name   string
		ev     BackupEvidence
		status Status
		want   string
	}{
		{"restore verified", backups{b: &Backup{ID: "b1", CreatedAt: made, Verification: verified("restore", true)}}, Pass, "newest backup b1 is 3h old, restore-verified"},
		{"too old", backups{b: &Backup{ID: "b1", CreatedAt: t0.Add(-27 * time.Hour), Verification: verified("restore", true)}}, Fail, "the newest backup is 1d3h old (max_age 1d2h)"},
		{"never verified", backups{b: &Backup{ID: "b1", CreatedAt: made}}, Fail, "never verified"},
		{"checksum only", backups{b: &Backup{ID: "b1", CreatedAt: made, Verification: verified("checksum", true)}}, Fail, "verified only at checksum level, not restore"},
		{"verification failed", backups{b: &Backup{ID: "b1", CreatedAt: made, Verification: verified("restore", false)}}, Fail, "failed its restore verification"},
		{"none", backups{}, Fail, "no backup in file backups/"},
		{"storage down", backups{err: errors.New("cannot reach the s3 bucket")}, Fail, "cannot list the backups"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := BackupsCheck{Evidence: tc.ev, Where: "file backups/", MaxAge: 26 * time.Hour, Now: fixed(t0)}.run(t.Context())
			if o.Status != tc.status || !strings.Contains(o.Summary, tc.want) {
				t.Fatalf("got %s %q, want %s %q\n%v", o.Status, o.Summary, tc.status, tc.want, o.Evidence)
			}
			if tc.status == Fail && o.Fix == "" {
				t.Error("no fix")
			}
		})
	}
}

type walArchive struct {
	archived bool
	problems []string
	err      error
	maxAge   *time.Duration
}

func (w walArchive) Verify(_ context.Context, maxAge time.Duration) (bool, []string, string, error) {
	*w.maxAge = maxAge
	return w.archived, w.problems, "WAL archive in file backups/: from 0001 to 0009", w.err
}

// With a WAL archive in the storage, a gap or a stale newest segment fails
// the backups item even when the newest backup is restore-verified; without
// one, the item is judged on the backups alone.
func TestBackupsCheckVerifiesTheWALArchive(t *testing.T) {
	good := backups{b: &Backup{ID: "b1", CreatedAt: t0.Add(-time.Hour), Verification: &Verification{Level: "restore", OK: true, At: t0}}}
	cases := []struct {
		name   string
		wal    walArchive
		status Status
		want   string
	}{
		{"no archive", walArchive{}, Pass, "restore-verified"},
		{"archive whole", walArchive{archived: true}, Pass, "restore-verified; WAL archive without gaps"},
		{"gap", walArchive{archived: true, problems: []string{"gap in the WAL archive (timeline 1): 0005 to 0006"}}, Fail, "the WAL archive: gap in the WAL archive (timeline 1)"},
		{"unreachable", walArchive{err: errors.New("cannot reach the bucket")}, Fail, "cannot check the WAL archive"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got time.Duration
			tc.wal.maxAge = &got
			o := BackupsCheck{Evidence: good, WAL: tc.wal, WALMaxAge: 15 * time.Minute, Where: "file backups/", MaxAge: 26 * time.Hour, Now: fixed(t0)}.run(t.Context())
			if o.Status != tc.status || !strings.Contains(o.Summary, tc.want) {
				t.Fatalf("got %s %q, want %s %q\n%v", o.Status, o.Summary, tc.status, tc.want, o.Evidence)
			}
			if got != 15*time.Minute {
				t.Errorf("verified with max age %s, want the configured 15m", got)
			}
			if tc.wal.archived && !strings.Contains(strings.Join(o.Evidence, "\n"), "WAL archive in file backups/") {
				t.Errorf("no WAL evidence: %v", o.Evidence)
			}
		})
	}
}
