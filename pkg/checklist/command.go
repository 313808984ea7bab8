package checklist

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/deployctl/deployctl/pkg/timeutil"
)

// CommitPlaceholder in a JUnit path is replaced by the current git commit.
const CommitPlaceholder = "{{commit}}"

// CommandCheck is the tests or security check: the configured command, or a
// JUnit report for the current commit no older than MaxAge.
type CommandCheck struct {
	ID     string // tests | security
	Run    string // shell command; exit 0 passes
	JUnit  string // report path (absolute), may hold {{commit}}
	MaxAge time.Duration
	Shell  Shell
	// Commit returns the current git commit (full hash).
	Commit func(ctx context.Context) (string, error)
	Now    func() time.Time
}

// Check returns the check for the runner.
func (c CommandCheck) Check() Check { return Check{ID: c.ID, Run: c.run} }

func (c CommandCheck) run(ctx context.Context) Outcome {
	switch {
	case c.Run != "":
		return c.runCommand(ctx)
	case c.JUnit != "":
		return c.readReport(ctx)
	}
	return Outcome{
		Status:  Fail,
		Summary: "not configured",
		Fix:     fmt.Sprintf("set checklist.%s.run (a command that exits 0 when all is well) or checklist.%s.junit (a report for the current commit), or waive %s", c.ID, c.ID, c.ID),
	}
}

func (c CommandCheck) runCommand(ctx context.Context) Outcome {
	start := c.Now()
	r := c.Shell.run(ctx, c.Run)
	o := Outcome{Evidence: r.evidence(c.Shell.Dir)}
	if r.code != 0 {
		o.Status, o.Summary = Fail, fmt.Sprintf("`%s` failed (exit %d)", c.Run, r.code)
		if r.err != nil {
			o.Summary = fmt.Sprintf("`%s` did not finish: %v", c.Run, r.err)
		}
		o.Fix = fmt.Sprintf("run `%s` yourself, fix what it reports, and run the checklist again", c.Run)
		return o
	}
	o.Status, o.Summary = Pass, fmt.Sprintf("`%s` passed in %s", c.Run, round(r.took))
	if c.JUnit == "" {
		return o
	}
	// The command wrote the report: read its counts, and insist it is new.
	path, err := c.reportPath(ctx)
	if err != nil {
		return c.fail(o, err.Error(), "")
	}
	jr, err := readJUnit(path)
	if err != nil {
		return c.fail(o, fmt.Sprintf("cannot read the JUnit report %s: %v", path, err), fmt.Sprintf("make `%s` write its JUnit report to %s", c.Run, c.JUnit))
	}
	if st, err := os.Stat(path); err == nil && st.ModTime().Before(start.Add(-time.Second)) {
		return c.fail(o, fmt.Sprintf("`%s` did not write %s (it is from %s)", c.Run, path, st.ModTime().UTC().Format(time.RFC3339)), fmt.Sprintf("make `%s` write its JUnit report to %s", c.Run, c.JUnit))
	}
	o.Evidence = append(o.Evidence, fmt.Sprintf("read %s: %s", path, jr.counts()))
	return c.judgeCounts(o, path, jr)
}

func (c CommandCheck) fail(o Outcome, summary, fix string) Outcome {
	o.Status, o.Summary, o.Fix = Fail, summary, fix
	return o
}

// reportPath resolves {{commit}} in the JUnit path.
func (c CommandCheck) reportPath(ctx context.Context) (string, error) {
	if !strings.Contains(c.JUnit, CommitPlaceholder) {
		return c.JUnit, nil
	}
	commit, err := c.commit(ctx)
	if err != nil {
		return "", err
	}
	return strings.ReplaceAll(c.JUnit, CommitPlaceholder, commit), nil
}

func (c CommandCheck) commit(ctx context.Context) (string, error) {
	if c.Commit == nil {
		return "", errors.New("no git commit to match the report against")
	}
	commit, err := c.Commit(ctx)
	if err != nil {
		return "", fmt.Errorf("cannot tell the current git commit: %v", err)
	}
	return commit, nil
}

// readReport judges a report made elsewhere (CI): for this commit, recent,
// and without failures.
func (c CommandCheck) readReport(ctx context.Context) Outcome {
	var o Outcome
	commit, err := c.commit(ctx)
	if err != nil {
		return c.fail(o, err.Error(), "run the checklist inside the project's git checkout")
	}
	path := strings.ReplaceAll(c.JUnit, CommitPlaceholder, commit)
	jr, err := readJUnit(path)
	if errors.Is(err, os.ErrNotExist) {
		return c.fail(o, fmt.Sprintf("no JUnit report for commit %s at %s", short(commit), path),
			fmt.Sprintf("run the %s for commit %s and keep the JUnit report at %s, or set checklist.%s.run", c.ID, short(commit), c.JUnit, c.ID))
	}
	if err != nil {
		return c.fail(o, fmt.Sprintf("cannot read the JUnit report %s: %v", path, err), "")
	}
	age := c.Now().Sub(jr.at)
	o.Evidence = append(o.Evidence, fmt.Sprintf("read %s: %s, made %s (%s, %s ago)", path, jr.counts(), jr.at.UTC().Format(time.RFC3339), jr.atSource, timeutil.FormatDuration(age.Round(time.Minute))))
	if o, bad := c.checkCommit(o, path, commit, jr); bad {
		return o
	}
	if c.MaxAge > 0 && age > c.MaxAge {
		return c.fail(o, fmt.Sprintf("the JUnit report is %s old (max_age %s)", timeutil.FormatDuration(age.Round(time.Minute)), timeutil.FormatDuration(c.MaxAge)),
			fmt.Sprintf("run the %s again for commit %s", c.ID, short(commit)))
	}
	return c.judgeCounts(o, path, jr)
}

// checkCommit ties the report to the commit: by the {{commit}} in its path,
// or else by a commit property inside it.
func (c CommandCheck) checkCommit(o Outcome, path, commit string, jr junitRun) (Outcome, bool) {
	if strings.Contains(c.JUnit, CommitPlaceholder) {
		o.Evidence = append(o.Evidence, "the report's path names commit "+short(commit))
		return o, false
	}
	switch {
	case jr.commit == "":
		return c.fail(o, fmt.Sprintf("cannot tell which commit %s was made for", path),
			fmt.Sprintf("put %s in checklist.%s.junit (e.g. reports/junit-%s.xml), or a <property name=\"commit\"> in the report", CommitPlaceholder, c.ID, CommitPlaceholder)), true
	case len(jr.commit) < 7 || !strings.HasPrefix(commit, jr.commit):
		return c.fail(o, fmt.Sprintf("the JUnit report is for commit %s, not the current %s", short(jr.commit), short(commit)),
			fmt.Sprintf("run the %s for commit %s", c.ID, short(commit))), true
	}
	o.Evidence = append(o.Evidence, "the report's commit property matches "+short(commit))
	return o, false
}

func (c CommandCheck) judgeCounts(o Outcome, path string, jr junitRun) Outcome {
	switch {
	case jr.failed > 0:
		o = c.fail(o, fmt.Sprintf("%d of %d tests failed: %s", jr.failed, jr.tests, strings.Join(jr.failures, ", ")), "fix the failing tests, or see "+path)
	case jr.tests == 0:
		o = c.fail(o, "the JUnit report holds no tests", "check that the test run found its tests")
	case o.Status != Pass:
		o.Status, o.Summary = Pass, jr.counts()+" in the JUnit report"
	default:
		o.Summary += " (" + jr.counts() + ")"
	}
	return o
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}
