package checklist

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/deployctl/deployctl/pkg/timeutil"
)

// Backup is the newest backup as the backup engine recorded it.
type Backup struct {
	ID           string
	CreatedAt    time.Time
	SizeBytes    int64
	Verification *Verification // nil: never verified
}

// Verification is the last verification of a backup.
type Verification struct {
	Level  string // checksum | archive | restore
	OK     bool
	At     time.Time
	Detail string
}

// BackupEvidence finds the newest backup.
type BackupEvidence interface {
	// Newest returns nil when there is no backup.
	Newest(ctx context.Context) (*Backup, error)
}

// WALEvidence checks the WAL archive, when there is one.
type WALEvidence interface {
	// Verify returns archived false when the storage holds no WAL archive
	// (archiving is not configured); else the problems of `wal verify
	// --max-age maxAge` and a line of evidence.
	Verify(ctx context.Context, maxAge time.Duration) (archived bool, problems []string, evidence string, err error)
}

// BackupsCheck: the newest backup is younger than MaxAge and verified at
// restore level; with a WAL archive in the storage, the archive has no gap
// and its newest segment is younger than WALMaxAge.
type BackupsCheck struct {
	Evidence  BackupEvidence
	WAL       WALEvidence // nil: not checked
	WALMaxAge time.Duration
	Where     string // the storage, for evidence: "file backups/", "s3://bucket/prefix"
	MaxAge    time.Duration
	Now       func() time.Time
}

// Check returns the check for the runner.
func (c BackupsCheck) Check() Check { return Check{ID: Backups, Run: c.run} }

func (c BackupsCheck) run(ctx context.Context) Outcome {
	if c.Evidence == nil {
		return Outcome{Status: Fail, Summary: "no backup storage configured", Fix: "configure backup.storage, or waive backups"}
	}
	b, err := c.Evidence.Newest(ctx)
	if err != nil {
		return Outcome{Status: Fail, Summary: "cannot list the backups: " + err.Error(), Fix: "check backup.storage (`deployctl backup list`)"}
	}
	if b == nil {
		return Outcome{Status: Fail, Summary: "no backup in " + c.Where, Evidence: []string{"listed " + c.Where + ": no backups"},
			Fix: "run `deployctl backup create` then `deployctl backup verify latest`"}
	}
	age := c.Now().Sub(b.CreatedAt)
	o := Outcome{Evidence: []string{fmt.Sprintf("newest backup in %s: %s, made %s (%s ago), %d bytes",
		c.Where, b.ID, b.CreatedAt.UTC().Format(time.RFC3339), timeutil.FormatDuration(age.Round(time.Minute)), b.SizeBytes)}}
	if c.MaxAge > 0 && age > c.MaxAge {
		o.Status = Fail
		o.Summary = fmt.Sprintf("the newest backup is %s old (max_age %s)", timeutil.FormatDuration(age.Round(time.Minute)), timeutil.FormatDuration(c.MaxAge))
		o.Fix = "run `deployctl backup create` (and check the backup schedule), then `deployctl backup verify latest`"
		return o
	}
	o = c.judgeVerification(o, b)
	if o.Status != Pass || c.WAL == nil {
		return o
	}
	return c.judgeWAL(ctx, o)
}

// judgeWAL adds the WAL archive's verification to a passing outcome.
func (c BackupsCheck) judgeWAL(ctx context.Context, o Outcome) Outcome {
	archived, problems, evidence, err := c.WAL.Verify(ctx, c.WALMaxAge)
	switch {
	case err != nil:
		o.Status, o.Summary, o.Fix = Fail, "cannot check the WAL archive: "+err.Error(), "check the storage (`deployctl wal status`)"
	case !archived:
		return o // no WAL archiving: logical backups only
	case len(problems) > 0:
		o.Evidence = append(o.Evidence, evidence)
		o.Status, o.Summary, o.Fix = Fail, "the WAL archive: "+strings.Join(problems, "; "), "see `deployctl wal status`, fix archive_command, then `deployctl wal verify`"
	default:
		o.Evidence = append(o.Evidence, evidence)
		o.Summary += "; WAL archive without gaps"
	}
	return o
}

func (c BackupsCheck) judgeVerification(o Outcome, b *Backup) Outcome {
	v := b.Verification
	fix := fmt.Sprintf("run `deployctl backup verify %s --level restore`", b.ID)
	switch {
	case v == nil:
		o.Status, o.Summary, o.Fix = Fail, fmt.Sprintf("the newest backup %s was never verified", b.ID), fix
		return o
	case !v.OK:
		o.Evidence = append(o.Evidence, fmt.Sprintf("verified at %s level at %s: FAILED: %s", v.Level, v.At.UTC().Format(time.RFC3339), v.Detail))
		o.Status, o.Summary, o.Fix = Fail, fmt.Sprintf("the newest backup %s failed its %s verification", b.ID, v.Level), "find out why (the detail above), take a new backup and verify it"
		return o
	}
	o.Evidence = append(o.Evidence, fmt.Sprintf("verified at %s level at %s: ok %s", v.Level, v.At.UTC().Format(time.RFC3339), v.Detail))
	if v.Level != "restore" {
		o.Status, o.Summary, o.Fix = Fail, fmt.Sprintf("the newest backup %s is verified only at %s level, not restore", b.ID, v.Level), fix
		return o
	}
	o.Status = Pass
	o.Summary = fmt.Sprintf("newest backup %s is %s old, restore-verified", b.ID, timeutil.FormatDuration(c.Now().Sub(b.CreatedAt).Round(time.Minute)))
	return o
}
