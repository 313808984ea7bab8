package providertest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
)

// TestHistoryLog runs the HistoryLog suite; newLog returns a log on a
// fresh, empty environment.
func TestHistoryLog(t *testing.T, newLog func(t *testing.T) provider.HistoryLog) {
	t.Run("Empty", func(t *testing.T) {
		got, err := newLog(t).List(t.Context(), provider.Filter{})
		if err != nil || len(got) != 0 {
			t.Fatalf("List of an empty log = %v, %v", got, err)
		}
	})
	t.Run("RoundTripOldestFirst", func(t *testing.T) { historyRoundTrip(t, newLog(t)) })
	t.Run("Filter", func(t *testing.T) { historyFilter(t, newLog(t)) })
	t.Run("ConcurrentAppends", func(t *testing.T) { historyConcurrent(t, newLog(t)) })
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func entry(i int, command string) provider.Entry {
	return provider.Entry{
		Time: t0.Add(time.Duration(i) * time.Minute), Env: "staging", Actor: "ann", Command: command,
		Before: map[string]any{"blue": 100, "green": 0}, After: map[string]any{"blue": 90, "green": 10},
		Reason: fmt.Sprintf("step %d", i), Result: "ok",
	}
}

func appendAll(t *testing.T, l provider.HistoryLog, es ...provider.Entry) {
	t.Helper()
	for _, e := range es {
		if err := l.Append(t.Context(), e); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
}

func asJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func historyRoundTrip(t *testing.T, l provider.HistoryLog) {
	want := []provider.Entry{entry(0, "rollout green"), entry(1, "rollout promote"), entry(2, "maintenance on")}
	appendAll(t, l, want...)
	got, err := l.List(t.Context(), provider.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("List returned %d entries, want %d", len(got), len(want))
	}
	for i := range want {
		if !got[i].Time.Equal(want[i].Time) || asJSON(got[i].Before) != asJSON(want[i].Before) ||
			asJSON(got[i].After) != asJSON(want[i].After) || got[i].Command != want[i].Command ||
			got[i].Actor != want[i].Actor || got[i].Reason != want[i].Reason || got[i].Result != want[i].Result {
			t.Errorf("entry %d = %s\nwant %s", i, asJSON(got[i]), asJSON(want[i]))
		}
	}
}

func historyFilter(t *testing.T, l provider.HistoryLog) {
	appendAll(t, l, entry(0, "rollout green"), entry(1, "maintenance on"), entry(2, "rollout promote"),
		entry(3, "rollout"), entry(4, "rolloutx"))
	cases := []struct {
		name string
		f    provider.Filter
		want []string
	}{
		{"command prefix", provider.Filter{Command: "rollout"}, []string{"step 0", "step 2", "step 3"}},
		{"since", provider.Filter{Since: t0.Add(2 * time.Minute)}, []string{"step 2", "step 3", "step 4"}},
		{"limit keeps newest", provider.Filter{Limit: 2}, []string{"step 3", "step 4"}},
		{"all three", provider.Filter{Command: "rollout", Since: t0.Add(time.Minute), Limit: 1}, []string{"step 3"}},
	}
	for _, c := range cases {
		got, err := l.List(t.Context(), c.f)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var reasons []string
		for _, e := range got {
			reasons = append(reasons, e.Reason)
		}
		if fmt.Sprint(reasons) != fmt.Sprint(c.want) {
			t.Errorf("%s: got %v, want %v", c.name, reasons, c.want)
		}
	}
}

func historyConcurrent(t *testing.T, l provider.HistoryLog) {
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.Append(t.Context(), entry(i, "rollout green")); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, err := l.List(t.Context(), provider.Filter{})
	if err != nil || len(got) != n {
		t.Fatalf("after %d concurrent appends List has %d entries (%v)", n, len(got), err)
	}
}
