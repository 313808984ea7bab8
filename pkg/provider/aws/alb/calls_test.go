package alb_test

import (
	"strings"
	"testing"

	"github.com/deployctl/deployctl/pkg/provider"
)

// TestAPICallsPerChange pins how many ELBv2 calls each operation makes:
// they count against the account's API rate limits (docs/benchmarks.md).
func TestAPICallsPerChange(t *testing.T) {
	fx := newFixture(t)
	// The calls of the provider itself: one page holds the listener, and
	// every read is consistent (each stale read costs one read more).
	fx.fake.PageSize, fx.fake.StaleReads = 400, 0
	m := fx.open(t)
	count := func(name string, f func() error, want string) {
		t.Helper()
		start := len(fx.fake.Calls)
		if err := f(); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(fx.fake.Calls[start:], " "); got != want {
			t.Errorf("%s calls:\n got %s\nwant %s", name, got, want)
		}
	}
	count("Weights", func() error { _, err := m.Weights(t.Context()); return err }, "DescribeRules")
	count("Slot", func() error { _, err := m.Slot(t.Context(), provider.Green); return err }, "DescribeTargetHealth")
	count("SetWeights", func() error {
		return m.SetWeights(t.Context(), provider.Weights{provider.Blue: 90, provider.Green: 10})
	},
		"DescribeRules ModifyRule DescribeRules DescribeRules DescribeTags")
	count("maintenance on", func() error {
		return m.SetMaintenance(t.Context(), provider.MaintenanceState{On: true, Allow: []string{"10.0.0.0/8"}})
	}, "DescribeRules DescribeTags CreateRule CreateRule CreateRule DescribeRules DescribeTags")
	count("SetWeights in maintenance", func() error {
		return m.SetWeights(t.Context(), provider.Weights{provider.Blue: 50, provider.Green: 50})
	},
		"DescribeRules ModifyRule DescribeRules DescribeRules DescribeTags ModifyRule ModifyRule")
	count("maintenance off", func() error { return m.SetMaintenance(t.Context(), provider.MaintenanceState{}) },
		"DescribeRules DescribeTags DeleteRule DeleteRule DeleteRule DescribeRules DescribeTags")
}
