package dbindex_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/dbindex"
	"github.com/deployctl/deployctl/pkg/dbindex/dbindextest"
)

func analyzeCount(t *testing.T, url, table string) int64 {
	t.Helper()
	var n int64
	conn := connect(t, url)
	exec(t, conn, "SELECT pg_stat_clear_snapshot()")
	if err := conn.QueryRow(t.Context(), "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = $1", table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestReindexRebuildsTheBloatedAndAnalyzes(t *testing.T) {
	url := fixture(t)
	plan := dbindex.NewPlan(inspect(t, url, 30), 30)
	if len(plan.Indexes) != 1 || plan.Indexes[0].Label() != "public.bloaty_v_idx" {
		t.Fatalf("plan: %+v", plan)
	}
	analyzed := analyzeCount(t, url, "bloaty")
	var phases []string
	e := &dbindex.Engine{LockTimeout: 5 * time.Second, Poll: 10 * time.Millisecond, Progress: func(ev dbindex.Event) { phases = append(phases, ev.Kind+":"+ev.Phase) }}
	out, err := e.Reindex(t.Context(), url, plan)
	if err != nil {
		t.Fatalf("reindex: %v (%+v)", err, out)
	}
	r := out.Results[0]
	if r.Status != dbindex.StatusReindexed || r.SizeAfterBytes <= 0 || r.SizeAfterBytes > r.SizeBytes/3 {
		t.Errorf("result %+v: the rebuilt index must be far smaller", r)
	}
	if strings.Join(out.Analyzed, " ") != "public.bloaty" {
		t.Errorf("analyzed %v", out.Analyzed)
	}
	waitFor(t, "the ANALYZE counted", func() bool { return analyzeCount(t, url, "bloaty") > analyzed })
	if got := invalidIndexes(t, url); got != "accounts_tenant_uniq" {
		t.Errorf("invalid indexes after the reindex: %q", got)
	}
	if again := inspect(t, url, 30); len(again.Bloated) != 0 {
		t.Errorf("still bloated: %+v", again.Bloated)
	}
	if !strings.Contains(strings.Join(phases, " "), "start:") || !strings.Contains(strings.Join(phases, " "), "done:") {
		t.Errorf("progress events %v", phases)
	}
}

func TestReindexLockTimeoutNamesTheBlockerAndMovesOn(t *testing.T) {
	url := fixture(t)
	dbindextest.Bloat(t, connect(t, url), "bloaty2")
	plan := dbindex.NewPlan(inspect(t, url, 30), 30)
	if len(plan.Indexes) != 2 {
		t.Fatalf("plan: %+v", plan)
	}
	pid, release := dbindextest.Blocker(t, url, "bloaty")
	defer release()
	e := &dbindex.Engine{LockTimeout: 500 * time.Millisecond, Poll: 10 * time.Millisecond, Progress: func(ev dbindex.Event) {
		if ev.Kind == "cleanup" {
			release() // dropping the leftover waits for the blocker too
		}
	}}
	out, err := e.Reindex(t.Context(), url, plan)
	if err == nil || !strings.Contains(err.Error(), "public.bloaty_v_idx skipped") {
		t.Fatalf("reindex with a blocked index: %v", err)
	}
	byName := map[string]dbindex.Result{}
	for _, r := range out.Results {
		byName[r.Label()] = r
	}
	skipped := byName["public.bloaty_v_idx"]
	t.Logf("skipped: %s", skipped.Detail)
	if skipped.Status != dbindex.StatusSkipped || len(skipped.BlockedBy) == 0 || skipped.BlockedBy[0].PID != pid ||
		!strings.Contains(skipped.Detail, fmt.Sprintf("pid %d", pid)) || !strings.Contains(skipped.Detail, "blocker-app") || skipped.Leftover != "" {
		t.Errorf("the blocked index: %+v", skipped)
	}
	if r := byName["public.bloaty2_v_idx"]; r.Status != dbindex.StatusReindexed {
		t.Errorf("the next index was not rebuilt: %+v", r)
	}
	if got := invalidIndexes(t, url); got != "accounts_tenant_uniq" {
		t.Errorf("invalid indexes after the timeout: %q (the _ccnew leftover must be dropped)", got)
	}
	if strings.Join(out.Analyzed, " ") != "public.bloaty2" {
		t.Errorf("analyzed %v: only the table rebuilt", out.Analyzed)
	}
}

func TestReindexCancelledDropsItsLeftover(t *testing.T) {
	url := fixture(t)
	dbindextest.Bloat(t, connect(t, url), "bloaty2")
	plan := dbindex.NewPlan(inspect(t, url, 30), 30)
	_, release := dbindextest.Blocker(t, url, "bloaty")
	defer release()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	sawLeftover := false
	e := &dbindex.Engine{LockTimeout: time.Minute, Poll: 10 * time.Millisecond, Progress: func(ev dbindex.Event) {
		switch {
		case ev.Kind == "progress" && strings.HasPrefix(ev.Phase, "waiting for writers") && ctx.Err() == nil:
			// the rebuild is under way: its invalid copy exists
			sawLeftover = strings.Contains(invalidIndexes(t, url), "bloaty_v_idx_ccnew")
			cancel()
		case ev.Kind == "cleanup":
			release()
		}
	}}
	out, err := e.Reindex(ctx, url, plan)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled reindex: %v", err)
	}
	if !sawLeftover {
		t.Error("no _ccnew copy was seen during the rebuild: the test did not cancel mid-reindex")
	}
	if got := invalidIndexes(t, url); got != "accounts_tenant_uniq" {
		t.Errorf("invalid indexes after Ctrl-C: %q; want only the one that was there before", got)
	}
	if len(out.Results) != 2 || out.Results[0].Status != dbindex.StatusInterrupted || out.Results[1].Status != dbindex.StatusNotRun || len(out.Analyzed) != 0 {
		t.Errorf("results %+v analyzed %v", out.Results, out.Analyzed)
	}
	var active int
	if err := connect(t, url).QueryRow(t.Context(), "SELECT count(*) FROM pg_stat_progress_create_index").Scan(&active); err != nil || active != 0 {
		t.Errorf("a rebuild still runs on the server after the cancel: %d (%v)", active, err)
	}
}
