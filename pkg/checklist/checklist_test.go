package checklist

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func fixed(t time.Time) func() time.Time { return func() time.Time { return t } }

func outcome(s Status, summary string) func(context.Context) Outcome {
	return func(context.Context) Outcome { return Outcome{Status: s, Summary: summary} }
}

// Every check waits for all the others to start: run one after another,
// they would deadlock and time out.
func TestRunnerRunsConcurrentlyInOrder(t *testing.T) {
	var started sync.WaitGroup
	started.Add(len(IDs))
	var checks []Check
	for _, id := range IDs {
		checks = append(checks, Check{ID: id, Run: func(ctx context.Context) Outcome {
			started.Done()
			started.Wait()
			return Outcome{Status: Pass, Summary: id}
		}})
	}
	r := Runner{Checks: checks, Timeout: time.Minute}
	rep := r.Run(t.Context(), "production", nil)
	if !rep.OK || len(rep.Checks) != len(IDs) {
		t.Fatalf("report %+v", rep)
	}
	for i, res := range rep.Checks {
		if res.ID != IDs[i] || res.Summary != IDs[i] || res.Evidence == nil {
			t.Errorf("result %d: %+v", i, res)
		}
	}
}

func TestRunnerTimeoutAndPanic(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	r := Runner{Timeout: 50 * time.Millisecond, Checks: []Check{
		{ID: Tests, Run: func(ctx context.Context) Outcome { <-block; return Outcome{Status: Pass} }},
		{ID: Security, Run: func(ctx context.Context) Outcome { panic("boom") }},
		{ID: Backups, Run: func(ctx context.Context) Outcome { <-ctx.Done(); return Outcome{Status: Fail, Summary: "killed"} }},
	}}
	rep := r.Run(t.Context(), "staging", nil)
	if rep.OK {
		t.Fatal("report ok")
	}
	want := []string{"timed out after 50ms", "internal error: boom", "timed out after 50ms"}
	for i, res := range rep.Checks {
		if res.Status != Fail || res.Summary != want[i] {
			t.Errorf("%s: %s %q, want fail %q", res.ID, res.Status, res.Summary, want[i])
		}
	}
	if !strings.Contains(rep.Checks[0].Fix, "checklist.timeout") {
		t.Errorf("timeout fix %q", rep.Checks[0].Fix)
	}
}

func TestRunnerOnlyAndVerdicts(t *testing.T) {
	r := Runner{Checks: []Check{
		{ID: Tests, Run: outcome(Pass, "")},
		{ID: Security, Run: outcome(Fail, "")},
		{ID: Performance, Run: outcome(Warn, "")},
		{ID: Backups, Run: outcome(Skip, "")},
	}}
	only, err := ParseOnly([]string{"backups", " tests"})
	if err != nil {
		t.Fatal(err)
	}
	rep := r.Run(t.Context(), "x", only)
	if !rep.OK || len(rep.Checks) != 2 || rep.Checks[0].ID != Tests || rep.Checks[1].ID != Backups {
		t.Fatalf("only tests,backups: %+v", rep)
	}
	if rep := r.Run(t.Context(), "x", []string{Performance}); !rep.OK {
		t.Error("warn made the report fail")
	}
	if rep := r.Run(t.Context(), "x", nil); rep.OK || rep.Counts()[Fail] != 1 {
		t.Errorf("all: %+v", rep)
	}
	if _, err := ParseOnly([]string{"tests", "lint"}); err == nil || !strings.Contains(err.Error(), `unknown check "lint"`) {
		t.Errorf("ParseOnly(lint): %v", err)
	}
}

func TestParseWaivers(t *testing.T) {
	ws, err := ParseWaivers([]WaiverSpec{
		{ID: "performance", Reason: "no load test yet", Expires: "2026-12-31"},
		{ID: "monitoring", Reason: "alerts move to the new stack", Expires: "2026-12-01T09:00:00Z"},
		{ID: "backups", Reason: "yaml date", Expires: "2026-12-02 00:00:00 +0000 UTC"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := ws[0].Expires; !got.Equal(time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC)) {
		t.Errorf("date expiry %v, want the end of that day", got)
	}
	if got := ws[2].Expires; !got.Equal(time.Date(2026, 12, 2, 23, 59, 59, 0, time.UTC)) {
		t.Errorf("yaml date expiry %v", got)
	}
	_, err = ParseWaivers([]WaiverSpec{
		{ID: "tests", Expires: "2026-12-31"},
		{ID: "security", Reason: "r"},
		{ID: "lint", Reason: "r", Expires: "2026-12-31"},
		{ID: "backups", Reason: "r", Expires: "30d"},
		{ID: "tests", Reason: "r", Expires: "2026-12-31"},
	})
	for _, want := range []string{"[0]: waiver for tests has no reason", "[1]: waiver for security has no expires", `[2]: id "lint" is not a check`, `[3]: waiver for backups: expires "30d"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

func TestWaivers(t *testing.T) {
	exp := time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC)
	ws := []Waiver{
		{ID: Performance, Reason: "no load test yet", Expires: exp},
		{ID: Monitoring, Reason: "old stack", Expires: t0.Add(-time.Hour)},
		{ID: Tests, Reason: "flaky CI", Expires: exp},
	}
	r := Runner{Now: fixed(t0), Waivers: ws, Checks: []Check{
		{ID: Tests, Run: outcome(Pass, "all good")},
		{ID: Performance, Run: outcome(Fail, "P95 900ms > 500ms")},
		{ID: Monitoring, Run: outcome(Pass, "fine now")},
	}}
	rep := r.Run(t.Context(), "production", nil)
	tests, perf, mon := rep.Checks[0], rep.Checks[1], rep.Checks[2]
	if tests.Status != Pass || !strings.Contains(strings.Join(tests.Evidence, "\n"), "no longer needed") {
		t.Errorf("passing waived check: %+v", tests)
	}
	if perf.Status != Warn || perf.Summary != "waived until 2026-12-31: no load test yet" || perf.Waiver == nil || perf.Waiver.Expired {
		t.Errorf("waived failure: %+v", perf)
	}
	if !strings.Contains(strings.Join(perf.Evidence, "\n"), "waived finding: fail: P95 900ms > 500ms") {
		t.Errorf("waived finding lost: %v", perf.Evidence)
	}
	if mon.Status != Fail || !strings.HasPrefix(mon.Summary, "waiver expired on 2026-11-25") || !mon.Waiver.Expired || mon.Fix == "" {
		t.Errorf("expired waiver: %+v", mon)
	}
	if rep.OK {
		t.Error("an expired waiver must fail the run")
	}
}

// The JUnit we write is JUnit we read: counts survive the round trip.
func TestWriteJUnitRoundTrip(t *testing.T) {
	rep := Report{Env: "production", Checks: []Result{
		{ID: Tests, Status: Pass, Summary: "ok", StartedAt: t0},
		{ID: Security, Status: Fail, Summary: "GO-2026-0001 ]]> found", Evidence: []string{"ran `x`"}, Fix: "upgrade", StartedAt: t0},
		{ID: Backups, Status: Skip, Summary: "n/a", StartedAt: t0},
		{ID: Monitoring, Status: Warn, Summary: "firing", StartedAt: t0},
	}}
	path := t.TempDir() + "/checklist.xml"
	var b strings.Builder
	if err := WriteJUnit(&b, rep); err != nil {
		t.Fatal(err)
	}
	write(t, path, b.String())
	jr, err := readJUnit(path)
	if err != nil {
		t.Fatal(err)
	}
	if jr.tests != 4 || jr.failed != 1 || jr.skipped != 1 || jr.failures[0] != "checklist.production.security" {
		t.Fatalf("read back %+v from\n%s", jr, b.String())
	}
}
