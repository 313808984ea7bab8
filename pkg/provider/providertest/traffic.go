package providertest

import (
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
)

// TrafficFixture is a TrafficRouter on a fresh environment whose two slots
// are up and ready; SetReady (optional) makes a slot's readiness fail or
// pass again.
type TrafficFixture struct {
	Router   provider.TrafficRouter
	SetReady func(s provider.Slot, ready bool)
}

// TestTrafficRouter runs the TrafficRouter suite.
func TestTrafficRouter(t *testing.T, newFixture func(t *testing.T) TrafficFixture) {
	t.Run("SetWeightsReadsBack", func(t *testing.T) {
		r := newFixture(t).Router
		for _, w := range []provider.Weights{{provider.Blue: 90, provider.Green: 10}, {provider.Blue: 0, provider.Green: 100}, {provider.Blue: 100, provider.Green: 0}} {
			setWeights(t, r, w)
		}
	})
	t.Run("InvalidWeightsRefusedUnchanged", func(t *testing.T) {
		r := newFixture(t).Router
		setWeights(t, r, provider.Weights{provider.Blue: 70, provider.Green: 30})
		for _, w := range []provider.Weights{{provider.Blue: 50, provider.Green: 60}, {provider.Blue: 101, provider.Green: -1}, {"purple": 100}} {
			if err := r.SetWeights(t.Context(), w); err == nil {
				t.Errorf("SetWeights(%v) accepted", w)
			}
		}
		if got := weights(t, r); got[provider.Blue] != 70 || got[provider.Green] != 30 {
			t.Errorf("a refused change moved the weights to %v", got)
		}
	})
	t.Run("SlotReadiness", func(t *testing.T) { trafficReadiness(t, newFixture(t)) })
}

func weights(t *testing.T, r provider.TrafficRouter) provider.Weights {
	t.Helper()
	w, err := r.Weights(t.Context())
	if err != nil {
		t.Fatalf("Weights: %v", err)
	}
	return w
}

func setWeights(t *testing.T, r provider.TrafficRouter, w provider.Weights) {
	t.Helper()
	if err := r.SetWeights(t.Context(), w); err != nil {
		t.Fatalf("SetWeights(%v): %v", w, err)
	}
	if got := weights(t, r); got[provider.Blue] != w[provider.Blue] || got[provider.Green] != w[provider.Green] {
		t.Fatalf("after SetWeights(%v) the data plane serves %v", w, got)
	}
}

func trafficReadiness(t *testing.T, fx TrafficFixture) {
	for _, s := range provider.Slots {
		st, err := fx.Router.Slot(t.Context(), s)
		if err != nil || !st.Ready || st.Slot != s {
			t.Fatalf("Slot(%s) = %+v, %v; want ready", s, st, err)
		}
	}
	if fx.SetReady == nil {
		return
	}
	fx.SetReady(provider.Green, false)
	if st, err := fx.Router.Slot(t.Context(), provider.Green); err != nil || st.Ready {
		t.Fatalf("Slot(green) after it failed = %+v, %v; want not ready", st, err)
	}
	fx.SetReady(provider.Green, true)
	if st, _ := fx.Router.Slot(t.Context(), provider.Green); !st.Ready {
		t.Fatalf("Slot(green) after it recovered = %+v; want ready", st)
	}
}

// TestMaintenanceSwitch runs the MaintenanceSwitch suite.
func TestMaintenanceSwitch(t *testing.T, newSwitch func(t *testing.T) provider.MaintenanceSwitch) {
	sw := newSwitch(t)
	on := provider.MaintenanceState{On: true, Message: "upgrading <db>", Since: t0, Until: t0.Add(time.Hour), Allow: []string{"10.0.0.0/8"}, By: "ann"}
	if err := sw.SetMaintenance(t.Context(), on); err != nil {
		t.Fatalf("SetMaintenance(on): %v", err)
	}
	got, err := sw.Maintenance(t.Context())
	if err != nil || !got.On || got.Message != on.Message || !got.Until.Equal(on.Until) || len(got.Allow) != 1 || got.By != "ann" {
		t.Fatalf("Maintenance after on = %+v, %v", got, err)
	}
	if err := sw.SetMaintenance(t.Context(), provider.MaintenanceState{}); err != nil {
		t.Fatalf("SetMaintenance(off): %v", err)
	}
	if got, err := sw.Maintenance(t.Context()); err != nil || got.On {
		t.Fatalf("Maintenance after off = %+v, %v", got, err)
	}
}
