package checklist

import (
	"context"
	"fmt"
	"strings"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/pkg/checklist"
)

// Gate runs the environment's checklist for another command (release):
// the checks named in only (all when empty), never those in skip; it
// returns the ids that failed and a one-line summary.
func Gate(ctx context.Context, f *app.Factory, only, skip []string) ([]string, string, error) {
	runner, err := newRunner(ctx, f)
	if err != nil {
		return nil, "", err
	}
	cfg, err := f.Config()
	if err != nil {
		return nil, "", err
	}
	ids := only
	if len(ids) == 0 {
		ids = checklist.IDs
	}
	var run []string
	for _, id := range ids {
		if !contains(skip, id) {
			run = append(run, id)
		}
	}
	rep := runner.Run(ctx, cfg.Env, run)
	if ctx.Err() != nil {
		return nil, "", ctx.Err()
	}
	var failed, parts []string
	n := rep.Counts()
	for _, c := range rep.Checks {
		if c.Status == checklist.Fail {
			failed = append(failed, c.ID)
			parts = append(parts, c.ID+": "+c.Summary)
		}
	}
	summary := fmt.Sprintf("%s: %d passed, %d warned, %d failed, %d skipped", strings.Join(run, ", "), n[checklist.Pass], n[checklist.Warn], n[checklist.Fail], n[checklist.Skip])
	if len(parts) > 0 {
		summary += " (" + strings.Join(parts, "; ") + ")"
	}
	return failed, summary, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
