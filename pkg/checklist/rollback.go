package checklist

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/deployctl/deployctl/pkg/provider"
)

// StandbyProbe reports the standby slot: the one traffic goes back to.
type StandbyProbe interface {
	Standby(ctx context.Context) (provider.SlotStatus, error)
}

// RollbackCheck: a runbook that is not empty, a way back for every pending
// migration, and a standby slot that runs and is healthy.
type RollbackCheck struct {
	Runbook     string // path (absolute)
	RunbookName string // as configured, for messages
	Migrations  MigrationsEvidence
	Standby     StandbyProbe
}

// Check returns the check for the runner.
func (c RollbackCheck) Check() Check { return Check{ID: Rollback, Run: c.run} }

func (c RollbackCheck) run(ctx context.Context) Outcome {
	var o Outcome
	var probs, fixes []string
	add := func(p, fix string) { probs, fixes = append(probs, p), append(fixes, fix) }
	if p, fix := c.runbook(&o); p != "" {
		add(p, fix)
	}
	if p, fix := c.downs(ctx, &o); p != "" {
		add(p, fix)
	}
	if p, fix := c.standby(ctx, &o); p != "" {
		add(p, fix)
	}
	if len(probs) > 0 {
		o.Status, o.Summary, o.Fix = Fail, strings.Join(probs, "; "), strings.Join(fixes, "; ")
		return o
	}
	o.Status, o.Summary = Pass, "runbook present, every pending migration reversible, standby healthy"
	return o
}

func (c RollbackCheck) runbook(o *Outcome) (string, string) {
	name := c.RunbookName
	if name == "" {
		name = c.Runbook
	}
	fix := fmt.Sprintf("write the rollback runbook at %s (how to go back: rollout abort, migrate down, restore), or set checklist.rollback.runbook", name)
	raw, err := os.ReadFile(c.Runbook)
	if err != nil {
		return fmt.Sprintf("no runbook at %s", name), fix
	}
	if strings.TrimSpace(string(raw)) == "" {
		o.Evidence = append(o.Evidence, fmt.Sprintf("read %s: empty", name))
		return fmt.Sprintf("the runbook %s is empty", name), fix
	}
	n := strings.Count(strings.TrimSpace(string(raw)), "\n") + 1
	o.Evidence = append(o.Evidence, fmt.Sprintf("read %s: %d line%s", name, n, plural(n)))
	return "", ""
}

// downs: every pending migration can be undone, or says why it cannot.
func (c RollbackCheck) downs(ctx context.Context, o *Outcome) (string, string) {
	if c.Migrations == nil {
		return "", ""
	}
	set, err := c.Migrations.Pending(ctx)
	if err != nil {
		return "cannot read the pending migrations: " + err.Error(), "check database.url and migrations.dir"
	}
	var missing []string
	for _, m := range set.Pending {
		switch {
		case m.HasDown:
		case m.Irreversible && strings.TrimSpace(m.IrreversibleReason) != "":
			o.Evidence = append(o.Evidence, fmt.Sprintf("%s is irreversible: %s", m.Name, m.IrreversibleReason))
		case m.Irreversible:
			missing = append(missing, m.Name+" (irreversible without a reason)")
		default:
			missing = append(missing, m.Name)
		}
	}
	o.Evidence = append(o.Evidence, fmt.Sprintf("%d pending migration(s), %d without a way back", len(set.Pending), len(missing)))
	if len(missing) > 0 {
		return "no down section: " + strings.Join(missing, ", "),
			"add a down section to each, or mark it irreversible with a reason"
	}
	return "", ""
}

func (c RollbackCheck) standby(ctx context.Context, o *Outcome) (string, string) {
	if c.Standby == nil {
		return "", ""
	}
	st, err := c.Standby.Standby(ctx)
	if err != nil {
		return "cannot probe the standby slot: " + err.Error(), "check the traffic provider (`deployctl rollout status`)"
	}
	detail := strings.TrimSpace(st.Detail)
	if detail != "" {
		detail = " (" + detail + ")"
	}
	if !st.Ready {
		o.Evidence = append(o.Evidence, fmt.Sprintf("standby slot %s: not ready%s", st.Slot, detail))
		return fmt.Sprintf("the standby slot %s is not healthy", st.Slot),
			fmt.Sprintf("keep the previous release running and healthy in %s until the new one is verified (`deployctl health --slot %s`)", st.Slot, st.Slot)
	}
	v := ""
	if st.Version != "" {
		v = ", version " + st.Version
	}
	o.Evidence = append(o.Evidence, fmt.Sprintf("standby slot %s: ready%s%s", st.Slot, v, detail))
	return "", ""
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
