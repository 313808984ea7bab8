package db

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/internal/testkit"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/dbindex"
)

func sampleIndexes() *dbindex.Report {
	ix := func(table, name string, size int64) *dbindex.Index {
		return &dbindex.Index{Schema: "public", Table: table, Name: name, Method: "btree", SizeBytes: size, Definition: "CREATE INDEX " + name + " ON public." + table + " USING btree (…)"}
	}
	reset := time.Date(2026, 11, 1, 3, 0, 0, 0, time.UTC)
	return &dbindex.Report{
		Database: "api", StatsReset: &reset, Pgstattuple: true,
		Bloated:      []dbindex.Bloated{{Index: ix("orders", "orders_created_idx", 734003200), BloatBytes: 513802240, BloatPercent: 70, BloatMethod: dbindex.MethodPgstattuple}},
		NoStatistics: []string{"public.audit_at_idx"},
		Unused:       []*dbindex.Index{ix("orders", "orders_note_idx", 12582912)},
		Duplicate:    []dbindex.Redundant{{Index: ix("users", "users_email_idx", 4194304), CoveredBy: "public.users_email_key"}},
		Overlapping:  []dbindex.Redundant{{Index: ix("orders", "orders_customer_idx", 8388608), CoveredBy: "public.orders_customer_created_idx"}},
		Invalid:      []dbindex.Invalid{{Index: ix("orders", "orders_sku_uniq", 0)}, {Index: ix("orders", "orders_created_idx_ccnew", 8192), Leftover: true}},
	}
}

func TestIndexesGolden(t *testing.T) {
	ios, _, out, errOut := ui.Test()
	if err := renderIndexes(ios, sampleIndexes(), 20); err != nil {
		t.Fatal(err)
	}
	testkit.Golden(t, "indexes.golden", append(errOut.Bytes(), out.Bytes()...))
	b, _ := json.MarshalIndent(sampleIndexes(), "", "  ")
	testkit.Golden(t, "indexes.json.golden", append(b, '\n'))
}

func TestReindexGolden(t *testing.T) {
	r := sampleIndexes()
	done := dbindex.Result{Bloated: r.Bloated[0], Status: dbindex.StatusReindexed, SizeAfterBytes: 220200960, DurationMS: 81234, BlockedBy: []dbindex.Session{}}
	since := time.Date(2026, 12, 3, 3, 59, 0, 0, time.UTC)
	skipped := dbindex.Result{Bloated: dbindex.Bloated{Index: r.Unused[0], BloatBytes: 6291456, BloatPercent: 50, BloatMethod: dbindex.MethodEstimate},
		Status: dbindex.StatusSkipped, BlockedBy: []dbindex.Session{{PID: 4242, User: "app", Application: "worker", State: "idle in transaction", XactStart: &since}},
		Detail: "waited longer than lock_timeout 5s for pid 4242 (…); skipped"}
	rep := ReindexReport{Env: "production", MinBloat: 30, LockTimeout: "5s", Indexes: []dbindex.Result{done, skipped}, Excluded: []dbindex.Redundant{},
		Analyzed: []string{"public.orders"}, Warnings: []string{}}
	ios, _, out, errOut := ui.Test()
	if err := renderReindex(ios, rep); err != nil {
		t.Fatal(err)
	}
	testkit.Golden(t, "reindex.golden", append(errOut.Bytes(), out.Bytes()...))
	b, _ := json.MarshalIndent(rep, "", "  ")
	testkit.Golden(t, "reindex.json.golden", append(b, '\n'))
	if got := phase(dbindex.Event{Phase: "building index: scanning table", BlocksDone: 50, BlocksTotal: 200, Blockers: skipped.BlockedBy}); got !=
		"building index: scanning table 25% (50/200 blocks), waiting for pid 4242 (user app, application worker, idle in transaction, transaction open since 2026-12-03T03:59:00Z)" {
		t.Errorf("phase: %q", got)
	}
}

func TestReindexProgressOnlyRedrawsOnATerminal(t *testing.T) {
	r := dbindex.Result{Bloated: dbindex.Bloated{Index: &dbindex.Index{SizeBytes: 2 << 20}}, Status: dbindex.StatusReindexed, SizeAfterBytes: 1 << 20, DurationMS: 1500}
	events := []dbindex.Event{{Kind: "start", Index: "public.a"}, {Kind: "progress", Index: "public.a", Phase: "building index", TuplesDone: 5, TuplesTotal: 10},
		{Kind: "done", Index: "public.a", Result: &r}}
	for _, tty := range []bool{false, true} {
		ios, _, out, errOut := ui.Test()
		ios.StderrTTY = tty
		p := newProgress(ios)
		for _, ev := range events {
			p.event(ev)
		}
		got := errOut.String()
		if out.Len() != 0 || !strings.Contains(got, "rebuilding public.a …\n") || !strings.Contains(got, "public.a: reindexed in 1.5s, 2.0 MiB → 1.0 MiB\n") {
			t.Errorf("tty %v: %q", tty, got)
		}
		if drawn := strings.Contains(got, "\rbuilding") || strings.Contains(got, "building index 50% (5/10 tuples)"); drawn != tty {
			t.Errorf("tty %v: progress line drawn %v: %q", tty, drawn, got)
		}
	}
}
