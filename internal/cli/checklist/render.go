package checklist

import (
	"fmt"
	"strings"

	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/checklist"
)

// renderTable shows one line per check, then the evidence and what to do
// for every check that did not simply pass, then the counts.
func renderTable(io *ui.IOStreams, rep checklist.Report) error {
	th := io.Theme()
	t := io.NewTable("check", "status", "took", "summary")
	for _, c := range rep.Checks {
		status := th.Status(string(c.Status))
		if c.Waiver != nil && !c.Waiver.Expired && c.Status == checklist.Warn {
			status = th.Status("warn") + " (waived)"
		}
		t.Row(c.ID, status, took(c.DurationMS), c.Summary)
	}
	var b strings.Builder
	if err := t.Render(&b); err != nil {
		return err
	}
	for _, c := range rep.Checks {
		if c.Status == checklist.Pass && c.Waiver == nil {
			continue
		}
		fmt.Fprintf(&b, "\n%s %s: %s\n", th.Bold.Render(c.ID), th.Status(string(c.Status)), c.Summary)
		for _, e := range c.Evidence {
			b.WriteString("  - " + strings.ReplaceAll(e, "\n", "\n    ") + "\n")
		}
		if c.Fix != "" {
			fmt.Fprintf(&b, "  what to do: %s\n", c.Fix)
		}
	}
	n := rep.Counts()
	fmt.Fprintf(&b, "\n%s: %d passed, %d warned, %d failed, %d skipped\n", verdict(th, rep), n[checklist.Pass], n[checklist.Warn], n[checklist.Fail], n[checklist.Skip])
	_, err := fmt.Fprint(io.Out, b.String())
	return err
}

func verdict(th *ui.Theme, rep checklist.Report) string {
	if rep.OK {
		return th.OK.Render(fmt.Sprintf("checklist for %s ready", rep.Env))
	}
	return th.Fail.Render(fmt.Sprintf("checklist for %s NOT ready", rep.Env))
}

func took(ms int64) string {
	if ms < 1000 {
		return fmt.Sprintf("%dms", ms)
	}
	return fmt.Sprintf("%.1fs", float64(ms)/1000)
}
