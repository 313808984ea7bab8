package release

import (
	"fmt"
	"strconv"
	"time"

	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/release"
)

// PlannedStep is one step of a dry run's JSON.
type PlannedStep struct {
	Name string `json:"name"`
	Plan string `json:"plan"`
}

// Plan is the JSON of a dry run.
type Plan struct {
	Release string        `json:"release"`
	Env     string        `json:"env"`
	Kind    string        `json:"kind"`
	Slot    string        `json:"slot"`
	Active  string        `json:"active"`
	Steps   []PlannedStep `json:"steps"`
	DryRun  bool          `json:"dry_run"`
}

func planOf(rec *release.Record, steps []release.Step) Plan {
	rel := &release.Release{Record: rec}
	p := Plan{Release: rec.Name(), Env: rec.Env, Kind: rec.Kind, Slot: string(rec.Slot), Active: string(rec.Active), DryRun: true}
	p.Steps = append(p.Steps, PlannedStep{Name: "lock", Plan: "take the environment's lock and hold it to the end"})
	for _, s := range steps {
		p.Steps = append(p.Steps, PlannedStep{Name: s.Name(), Plan: s.Plan(rel)})
	}
	return p
}

// planLines are the plan for people, one line per step.
func planLines(rec *release.Record, steps []release.Step) []string {
	var out []string
	for i, s := range planOf(rec, steps).Steps {
		out = append(out, fmt.Sprintf("%2d. %-18s %s", i, s.Name, s.Plan))
	}
	return out
}

func renderPlan(io *ui.IOStreams, asJSON bool, rec *release.Record, steps []release.Step) error {
	if asJSON {
		return io.JSON(planOf(rec, steps))
	}
	fmt.Fprintf(io.Out, "dry run: %s %s of %s would put the %s slot in service (%s active now):\n", rec.Kind, rec.Name(), rec.Env, rec.Slot, rec.Active)
	for _, l := range planLines(rec, steps) {
		fmt.Fprintln(io.Out, l)
	}
	fmt.Fprintln(io.Out, "nothing was changed and no lock was taken")
	return nil
}

// renderSteps is one release's steps as a table.
func renderSteps(io *ui.IOStreams, rec *release.Record) error {
	th := io.Theme()
	fmt.Fprintf(io.Out, "%s %s of %s: %s (%s → %s)\n", rec.Kind, rec.Name(), rec.Env, th.Status(string(rec.Status)), rec.Active, rec.Slot)
	t := io.NewTable("STEP", "STATUS", "TOOK", "DETAIL")
	for _, s := range rec.Steps {
		t.Row(s.Name, th.Status(string(s.Status)), took(s), s.Detail)
	}
	if err := t.Render(io.Out); err != nil {
		return err
	}
	for _, n := range rec.Notifications {
		io.Warnf("notification not delivered: %s", n)
	}
	return nil
}

func took(s release.StepResult) string {
	if s.Started == nil || s.Ended == nil {
		return ""
	}
	return s.Ended.Sub(*s.Started).Round(100 * time.Millisecond).String()
}

// renderList is releases: newest first.
func renderList(io *ui.IOStreams, recs []release.Record, now time.Time) error {
	th := io.Theme()
	t := io.NewTable("RELEASE", "KIND", "STATUS", "SLOT", "VERSION", "MIGRATION", "BACKUP", "ACTOR", "STARTED", "REASON")
	for _, r := range recs {
		status := th.Status(string(r.Status))
		if !r.Status.Finished() {
			status += " at " + current(&r)
		}
		version := r.Version
		if r.Kind == release.KindRollback {
			version += " (of v" + strconv.Itoa(r.RollbackOf) + ")"
		}
		t.Row(r.Name(), r.Kind, status, string(r.Slot), orUnknown(version), migration(r), r.BackupID, r.Actor, r.Started.UTC().Format("2006-01-02 15:04"), r.Reason)
	}
	if t.Len() == 0 {
		fmt.Fprintln(io.Out, "no release yet: `deployctl release --dry-run` shows what one would do")
		return nil
	}
	return t.Render(io.Out)
}

func migration(r release.Record) string {
	switch {
	case r.MigrationBefore == nil:
		return ""
	case r.MigrationAfter == nil || *r.MigrationAfter == *r.MigrationBefore:
		return strconv.FormatInt(*r.MigrationBefore, 10)
	}
	return fmt.Sprintf("%d→%d", *r.MigrationBefore, *r.MigrationAfter)
}
