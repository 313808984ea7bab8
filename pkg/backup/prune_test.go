package backup_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deployctl/deployctl/pkg/backup"
)

func catalog(times ...string) *backup.Catalog {
	c := &backup.Catalog{Broken: map[string]string{}}
	for _, s := range times {
		t, _ := time.Parse(time.RFC3339, s)
		c.Backups = append(c.Backups, backup.Manifest{ID: t.Format("20060102T150405Z"), CreatedAt: t})
	}
	return c
}

func decisions(p *backup.PrunePlan) string {
	var b strings.Builder
	for _, it := range p.Backups {
		mark := "-"
		if it.Keep {
			mark = "+"
		}
		b.WriteString(mark + it.ID[:8] + " ")
	}
	return strings.TrimSpace(b.String())
}

func TestPlanDailyWeeklyMonthly(t *testing.T) {
	// newest first: two on Nov 25, Nov 24, Nov 18 (previous ISO week), Oct 31, Sep 1
	c := catalog("2026-11-25T12:00:00Z", "2026-11-25T03:00:00Z", "2026-11-24T03:00:00Z",
		"2026-11-18T03:00:00Z", "2026-10-31T03:00:00Z", "2026-09-01T03:00:00Z")
	now := time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)
	cases := []struct {
		p    backup.Policy
		want string
	}{
		{backup.Policy{Daily: 2}, "+20261125 -20261125 +20261124 -20261118 -20261031 -20260901"},
		{backup.Policy{Weekly: 2}, "+20261125 -20261125 -20261124 +20261118 -20261031 -20260901"},
		{backup.Policy{Monthly: 3}, "+20261125 -20261125 -20261124 -20261118 +20261031 +20260901"},
		{backup.Policy{}, "+20261125 -20261125 -20261124 -20261118 -20261031 -20260901"},
	}
	for _, tc := range cases {
		if got := decisions(backup.Plan(c, tc.p, now)); got != tc.want {
			t.Errorf("%+v:\n got %s\nwant %s", tc.p, got, tc.want)
		}
	}
	p := backup.Plan(c, backup.Policy{Daily: 2, Weekly: 1}, now)
	if r := strings.Join(p.Backups[0].Reasons, ", "); r != "newest backup, daily 1/2 (2026-11-25), weekly 1/1 (2026-W48)" {
		t.Errorf("reasons of the newest: %s", r)
	}
}

func TestPlanNeverDeletesNewestVerifiedNorOnlyBackup(t *testing.T) {
	c := catalog("2026-11-25T03:00:00Z", "2026-11-24T03:00:00Z", "2026-11-23T03:00:00Z")
	c.Backups[0].Verification = &backup.Verification{Level: "restore", OK: false}
	c.Backups[2].Verification = &backup.Verification{Level: "restore", OK: true}
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	if got := decisions(backup.Plan(c, backup.Policy{}, now)); got != "+20261125 -20261124 +20261123" {
		t.Errorf("keep nothing by count: %s", got)
	}
	one := catalog("2026-01-01T00:00:00Z")
	if got := decisions(backup.Plan(one, backup.Policy{}, now)); got != "+20260101" {
		t.Errorf("the only backup: %s", got)
	}
}

func TestPlanOrphansAfterGrace(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	c := &backup.Catalog{Orphans: []backup.Orphan{
		{ID: "old", Newest: now.Add(-25 * time.Hour)}, {ID: "fresh", Newest: now.Add(-time.Minute)}}}
	p := backup.Plan(c, backup.Policy{Grace: 24 * time.Hour}, now)
	if !p.Orphans[0].Delete || p.Orphans[1].Delete || !strings.Contains(p.Orphans[1].Reason, "in progress") {
		t.Errorf("orphans: %+v", p.Orphans)
	}
}

func TestApplyDeletesManifestFirstAndOrphans(t *testing.T) {
	url := pg.NewDatabase(t)
	seed(t, url, 10)
	e, st := newEngine(t)
	old := mustCreate(t, e, url)
	e.Now = func() time.Time { return time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC) }
	keep := mustCreate(t, e, url)
	must(t, st.Put(t.Context(), "20261120T000000Z-dead/dump.zst", strings.NewReader("partial")))
	c, err := backup.Scan(t.Context(), st)
	must(t, err)
	plan := backup.Plan(c, backup.Policy{Daily: 1}, time.Now().Add(48*time.Hour))
	_, err = e.Apply(t.Context(), plan)
	must(t, err)
	objs, _ := st.List(t.Context(), "")
	for _, o := range objs {
		if !strings.HasPrefix(o.Name, keep.ID+"/") {
			t.Errorf("left after prune: %s (old backup %s)", o.Name, old.ID)
		}
	}
}

// TestCountsAndDumpShareTheSnapshot writes rows during create: the restored
// database must have exactly the manifest's counts.
func TestCountsAndDumpShareTheSnapshot(t *testing.T) {
	url := pg.NewDatabase(t)
	seed(t, url, 20000)
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		conn, err := pgx.Connect(context.Background(), url)
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		for ctx.Err() == nil {
			_, _ = conn.Exec(ctx, "INSERT INTO orders (user_id, total) SELECT 1, 1 FROM generate_series(1, 50)")
		}
	}()
	e, _ := newEngine(t)
	m := mustCreate(t, e, url)
	cancel()
	wg.Wait()
	res, err := e.Verify(t.Context(), m, backup.VerifyOptions{Level: backup.LevelRestore, ServerURL: url})
	if err != nil || !res.Verification.OK {
		t.Fatalf("a backup taken under writes does not match its own counts: %q, %v", res.Problems, err)
	}
}
