package checklist

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/deployctl/deployctl/pkg/timeutil"
)

// Migration is one pending migration as the migrations engine sees it.
type Migration struct {
	Version            int64
	Name               string // file name
	HasDown            bool
	Irreversible       bool   // marked irreversible in the file
	IrreversibleReason string // the marker's reason; required
	Findings           []string
}

// MigrationSet is the migrations folder against the database.
type MigrationSet struct {
	Hash    string // the migration-set hash rehearsals are recorded for
	Current int64  // the database's version
	Pending []Migration
}

// Rehearsal is a recorded `migrate rehearse` of a migration set.
type Rehearsal struct {
	At     time.Time
	OK     bool
	Took   time.Duration
	Detail string
}

// MigrationsEvidence is what the migrations and rollback checks read.
type MigrationsEvidence interface {
	Pending(ctx context.Context) (MigrationSet, error)
	// Rehearsal returns nil when the set was never rehearsed.
	Rehearsal(ctx context.Context, hash string) (*Rehearsal, error)
}

// MigrationsCheck: every pending migration rehearsed for the current set
// hash, and lint clean.
type MigrationsCheck struct {
	Evidence MigrationsEvidence
	Now      func() time.Time
}

// Check returns the check for the runner.
func (c MigrationsCheck) Check() Check { return Check{ID: Migrations, Run: c.run} }

func (c MigrationsCheck) run(ctx context.Context) Outcome {
	if c.Evidence == nil {
		return Outcome{Status: Skip, Summary: "no migrations configured for this environment"}
	}
	set, err := c.Evidence.Pending(ctx)
	if err != nil {
		return Outcome{Status: Fail, Summary: "cannot read the pending migrations: " + err.Error(),
			Fix: "check database.url and migrations.dir, then `deployctl migrate status`"}
	}
	o := Outcome{Evidence: []string{fmt.Sprintf("read the database (version %d) and the migrations folder (set %s): %d pending", set.Current, shortHash(set.Hash), len(set.Pending))}}
	if len(set.Pending) == 0 {
		o.Status, o.Summary = Pass, fmt.Sprintf("no pending migrations (database at version %d)", set.Current)
		return o
	}
	var probs []string
	if lint := lintFindings(set.Pending); len(lint) > 0 {
		o.Evidence = append(o.Evidence, lint...)
		probs = append(probs, fmt.Sprintf("%d lint finding(s)", len(lint)))
		o.Fix = "fix the findings (`deployctl migrate validate`); "
	}
	r, err := c.Evidence.Rehearsal(ctx, set.Hash)
	switch {
	case err != nil:
		probs = append(probs, "cannot read the rehearsal record: "+err.Error())
		o.Fix += "check the state store, then run `deployctl migrate rehearse`"
	case r == nil:
		probs = append(probs, fmt.Sprintf("%s not rehearsed for this set", versions(set.Pending)))
		o.Fix += "run `deployctl migrate rehearse`"
	case !r.OK:
		o.Evidence = append(o.Evidence, fmt.Sprintf("rehearsal at %s failed: %s", r.At.UTC().Format(time.RFC3339), r.Detail))
		probs = append(probs, "the rehearsal failed")
		o.Fix += "fix the failing migration and run `deployctl migrate rehearse` again"
	default:
		o.Evidence = append(o.Evidence, fmt.Sprintf("rehearsed (up, down, up) at %s (%s ago) in %s", r.At.UTC().Format(time.RFC3339), timeutil.FormatDuration(c.Now().Sub(r.At).Round(time.Minute)), round(r.Took)))
	}
	if len(probs) > 0 {
		o.Status, o.Summary, o.Fix = Fail, strings.Join(probs, "; "), strings.TrimSuffix(o.Fix, "; ")
		return o
	}
	o.Status, o.Summary = Pass, fmt.Sprintf("%s rehearsed for this set, lint clean", versions(set.Pending))
	return o
}

func lintFindings(ms []Migration) []string {
	var out []string
	for _, m := range ms {
		for _, f := range m.Findings {
			out = append(out, fmt.Sprintf("%s: %s", m.Name, f))
		}
	}
	return out
}

// versions names pending migrations compactly: "migrations 5, 6 and 7".
func versions(ms []Migration) string {
	vs := make([]string, len(ms))
	for i, m := range ms {
		vs[i] = fmt.Sprint(m.Version)
	}
	if len(vs) == 1 {
		return "migration " + vs[0]
	}
	return "migrations " + strings.Join(vs[:len(vs)-1], ", ") + " and " + vs[len(vs)-1]
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	if h == "" {
		return "(no hash)"
	}
	return h
}
