package maintenance

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/local/statefs"
)

func TestOnOffIdempotentAndRecorded(t *testing.T) {
	v := newEnv(t)
	ctx := t.Context()
	req := OnRequest{Message: "db upgrade", Until: t0.Add(time.Hour), Allow: []string{"10.1.2.3/8", "::1"}}
	ch, err := v.e.On(ctx, req)
	if err != nil || !ch.Changed {
		t.Fatalf("on: %+v %v", ch, err)
	}
	st := v.sw.st
	if !st.On || st.Message != "db upgrade" || !st.Since.Equal(t0) || st.By != "ann" || strings.Join(st.Allow, ",") != "10.0.0.0/8,::1/128" {
		t.Fatalf("state %+v", st)
	}
	if ch, _ := v.e.On(ctx, req); ch.Changed || v.sw.sets != 1 {
		t.Fatalf("second identical on changed something: %+v", ch)
	}
	v.clk.Advance(10 * time.Minute)
	req.Message = "db upgrade, nearly done"
	if ch, _ := v.e.On(ctx, req); !ch.Changed || !v.sw.st.Since.Equal(t0) {
		t.Fatalf("rewording must keep the start: %+v", v.sw.st)
	}
	if ch, err := v.e.Off(ctx, false); err != nil || !ch.Changed || v.sw.st.On {
		t.Fatalf("off: %+v %v", ch, err)
	}
	if ch, _ := v.e.Off(ctx, false); ch.Changed || v.sw.sets != 3 {
		t.Fatalf("second off changed something: %+v", ch)
	}
	es := v.entries(t)
	if len(es) != 3 || es[0].Command != "maintenance on" || es[2].Command != "maintenance off" || es[2].Result != "ok" {
		t.Fatalf("history %+v", es)
	}
}

func TestOnRefusedWhileLocked(t *testing.T) {
	v := newEnv(t)
	other := &statefs.Locker{Dir: v.dir}
	release, err := other.Acquire(t.Context(), provider.Holder{Actor: "bob", Command: "rollout promote", Reason: "release 1.4", Since: t0})
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	_, err = v.e.On(t.Context(), OnRequest{})
	var locked *provider.LockedError
	if !errors.As(err, &locked) || locked.Holder.Actor != "bob" || !strings.Contains(err.Error(), "release 1.4") {
		t.Fatalf("err = %v", err)
	}
	if v.sw.sets != 0 || len(v.entries(t)) != 0 {
		t.Fatal("something changed while locked")
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	v := newEnv(t)
	ch, err := v.e.On(t.Context(), OnRequest{Message: "m", DryRun: true})
	if err != nil || !ch.Changed || !ch.DryRun || !ch.After.On {
		t.Fatalf("%+v %v", ch, err)
	}
	if v.sw.sets != 0 || len(v.entries(t)) != 0 {
		t.Fatal("dry run changed something")
	}
}

func TestValidateOn(t *testing.T) {
	if err := ValidateOn(OnRequest{Allow: []string{"10.0.0.0/33"}}, t0); err == nil || !strings.Contains(err.Error(), "CIDR") {
		t.Errorf("bad CIDR: %v", err)
	}
	if err := ValidateOn(OnRequest{Until: t0.Add(-time.Second)}, t0); err == nil {
		t.Error("until in the past accepted")
	}
	if err := ValidateOn(OnRequest{Until: t0.Add(time.Second), Allow: []string{"2001:db8::/32"}}, t0); err != nil {
		t.Error(err)
	}
}

func TestStatusShowsExpiry(t *testing.T) {
	v := newEnv(t)
	ctx := t.Context()
	if s, _ := v.e.Status(ctx); s.On || s.Active || s.Since != nil || s.Allow == nil || s.Windows == nil {
		t.Fatalf("off: %+v", s)
	}
	v.e.On(ctx, OnRequest{Message: "m", Until: t0.Add(30 * time.Minute)})
	v.clk.Advance(10 * time.Minute)
	s, err := v.e.Status(ctx)
	if err != nil || !s.Active || s.Expired || s.Remaining != "20m" || !s.Until.Equal(t0.Add(30*time.Minute)) || s.By != "ann" {
		t.Fatalf("active: %+v %v", s, err)
	}
	v.clk.Advance(25 * time.Minute)
	s, _ = v.e.Status(ctx)
	if !s.On || s.Active || !s.Expired || s.OverdueBy != "5m" {
		t.Fatalf("expired: %+v", s)
	}
	// on again after expiry starts a new window
	v.e.On(ctx, OnRequest{Message: "again"})
	if !v.sw.st.Since.Equal(v.clk.Now()) {
		t.Fatalf("new window kept the old start: %+v", v.sw.st)
	}
}
