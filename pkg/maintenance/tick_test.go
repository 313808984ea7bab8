package maintenance

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/notify"
	"github.com/deployctl/deployctl/pkg/provider"
)

// events records what the engine sends; delivery itself is tested in pkg/notify.
type events struct {
	mu  sync.Mutex
	got []notify.Event
}

func (n *events) Notify(_ context.Context, e notify.Event) []notify.Delivery {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.got = append(n.got, e)
	return []notify.Delivery{{Target: "ops", Kind: e.Kind, OK: true, Status: 200}}
}

func (n *events) kinds() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var s []string
	for _, e := range n.got {
		s = append(s, string(e.Kind))
	}
	return strings.Join(s, ",")
}

// scheduled is an env with one window from t0+1h to t0+2h.
func scheduled(t *testing.T) (*env, *events, Window) {
	t.Helper()
	v := newEnv(t)
	v.withMail(nil)
	ev := &events{}
	v.e.Notifier = ev
	out, err := v.e.Schedule(t.Context(), ScheduleRequest{Start: t0.Add(time.Hour), Duration: time.Hour, Message: "Database upgrade"})
	if err != nil {
		t.Fatal(err)
	}
	v.mails = nil
	return v, ev, out.Window
}

func tick(t *testing.T, v *env) TickResult {
	t.Helper()
	res, err := v.e.Tick(t.Context(), TickRequest{Allow: []string{"10.0.0.0/8"}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func actions(res TickResult) string {
	var s []string
	for _, a := range res.Actions {
		s = append(s, a.Window+":"+a.Action)
	}
	return strings.Join(s, ",")
}

func TestTickSwitchesAWindowOnAtItsStartAndOffAtItsEnd(t *testing.T) {
	v, ev, w := scheduled(t)
	if res := tick(t, v); len(res.Actions) != 0 || v.sw.sets != 0 {
		t.Fatalf("before the start: %+v, %d sets", res, v.sw.sets)
	}
	n := len(v.entries(t))
	v.clk.Advance(time.Hour + 30*time.Second)
	res := tick(t, v)
	if actions(res) != w.ID+":on" || !v.sw.st.On || v.sw.st.Message != "Database upgrade" || !v.sw.st.Until.Equal(w.End) || strings.Join(v.sw.st.Allow, ",") != "10.0.0.0/8" {
		t.Fatalf("at the start: %s, switch %+v", actions(res), v.sw.st)
	}
	if len(res.Actions[0].Notifications) != 1 || ev.kinds() != "maintenance.on" || ev.got[0].Fields["window"] != w.ID {
		t.Errorf("notifications %+v, events %s %+v", res.Actions[0].Notifications, ev.kinds(), ev.got)
	}
	if len(v.mails) != 1 || !strings.HasPrefix(v.mails[0], "Maintenance of production has started") {
		t.Errorf("mails: %q", v.mails)
	}
	es := v.entries(t)
	if len(es) != n+1 || es[n].Command != "maintenance tick" || es[n].Result != "ok" || !strings.Contains(string(mustJSON(es[n].After)), `"kind":"maintenance.on","ok":true,"status":200,"target":"ops"`) {
		t.Errorf("history: %+v", es[n:])
	}
	v.clk.Advance(10 * time.Minute)
	if res := tick(t, v); len(res.Actions) != 0 || v.sw.sets != 1 {
		t.Fatalf("during the window: %+v, %d sets", res, v.sw.sets)
	}
	v.clk.Advance(time.Hour)
	res = tick(t, v)
	if actions(res) != w.ID+":off" || v.sw.st.On {
		t.Fatalf("after the end: %s, switch %+v", actions(res), v.sw.st)
	}
	if ev.kinds() != "maintenance.on,maintenance.off" || len(v.mails) != 2 || !strings.HasPrefix(v.mails[1], "Maintenance of production has ended") {
		t.Errorf("events %s, mails %q", ev.kinds(), v.mails)
	}
	if res := tick(t, v); len(res.Actions) != 0 || v.sw.sets != 2 {
		t.Fatalf("after it ended: %+v, %d sets", res, v.sw.sets)
	}
}

func TestTickNeverSwitchesOffAWindowAnOperatorSwitchedOn(t *testing.T) {
	v, _, w := scheduled(t)
	v.clk.Advance(50 * time.Minute)
	if _, err := v.e.On(t.Context(), OnRequest{Message: "early start"}); err != nil {
		t.Fatal(err)
	}
	v.clk.Advance(11 * time.Minute)
	if res := tick(t, v); actions(res) != w.ID+":already-on" {
		t.Fatalf("at the start: %+v", res)
	}
	v.clk.Advance(2 * time.Hour)
	if res := tick(t, v); len(res.Actions) != 0 || !v.sw.st.On || v.sw.st.Message != "early start" {
		t.Fatalf("after the end: %+v, switch %+v", res, v.sw.st)
	}
}

func TestTickLeavesOnAWindowAnOperatorExtended(t *testing.T) {
	v, _, w := scheduled(t)
	v.clk.Advance(time.Hour)
	tick(t, v)
	v.clk.Advance(30 * time.Minute)
	if _, err := v.e.On(t.Context(), OnRequest{Message: "Database upgrade", Until: w.End.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	v.clk.Advance(31 * time.Minute)
	res := tick(t, v)
	if actions(res) != w.ID+":left-on" || !v.sw.st.On || !strings.Contains(res.Actions[0].Detail, "deployctl maintenance off") {
		t.Fatalf("after the end: %+v, switch %+v", res, v.sw.st)
	}
}

func TestTickDoesNotSwitchOnAgainAfterAnOperatorSwitchedOff(t *testing.T) {
	v, _, w := scheduled(t)
	v.clk.Advance(time.Hour)
	tick(t, v)
	v.clk.Advance(5 * time.Minute)
	if _, err := v.e.Off(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	v.clk.Advance(time.Minute)
	if res := tick(t, v); len(res.Actions) != 0 || v.sw.st.On {
		t.Fatalf("during the window: %+v, switch %+v", res, v.sw.st)
	}
	v.clk.Advance(time.Hour)
	if res := tick(t, v); actions(res) != w.ID+":was-off" || v.sw.st.On {
		t.Fatalf("after the end: %+v", res)
	}
}

func TestAWindowWhoseEndPassedBeforeItsStartIsMissed(t *testing.T) {
	v, ev, w := scheduled(t)
	v.clk.Advance(3 * time.Hour) // tick did not run during the window
	res := tick(t, v)
	if actions(res) != w.ID+":missed" || v.sw.st.On || v.sw.sets != 0 || !strings.Contains(res.Actions[0].Detail, "not switched on") {
		t.Fatalf("%+v, switch %+v", res, v.sw.st)
	}
	if ev.kinds() != "" || len(v.mails) != 0 {
		t.Errorf("missed window announced: %s %q", ev.kinds(), v.mails)
	}
	es := v.entries(t)
	if last := es[len(es)-1]; last.Command != "maintenance tick" || last.Result != "missed" {
		t.Errorf("history: %+v", last)
	}
	if res := tick(t, v); len(res.Actions) != 0 {
		t.Errorf("reported twice: %+v", res)
	}
	ws, _ := v.e.Windows(t.Context())
	if ws[0].Tick != TickMissed {
		t.Errorf("window: %+v", ws[0])
	}
}

func TestTickDryRunChangesNothing(t *testing.T) {
	v, ev, w := scheduled(t)
	v.clk.Advance(time.Hour)
	res, err := v.e.Tick(t.Context(), TickRequest{DryRun: true})
	if err != nil || actions(res) != w.ID+":on" || !res.DryRun {
		t.Fatalf("%+v %v", res, err)
	}
	if v.sw.sets != 0 || ev.kinds() != "" || len(v.mails) != 0 {
		t.Errorf("dry run changed something: %d sets, %s, %q", v.sw.sets, ev.kinds(), v.mails)
	}
	if res := tick(t, v); actions(res) != w.ID+":on" {
		t.Errorf("after the dry run: %+v", res)
	}
}

func TestTwoTicksAtOnceSwitchOnce(t *testing.T) {
	v, ev, w := scheduled(t)
	v.clk.Advance(time.Hour)
	var wg sync.WaitGroup
	results := make([]TickResult, 4)
	errs := make([]error, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = v.e.Tick(t.Context(), TickRequest{})
		}()
	}
	wg.Wait()
	on := 0
	for i, res := range results {
		var held *provider.LockedError
		if errs[i] != nil && !errors.As(errs[i], &held) {
			t.Errorf("tick %d: %v", i, errs[i])
		}
		if actions(res) == w.ID+":on" {
			on++
		}
	}
	if on != 1 || v.sw.sets != 1 || ev.kinds() != "maintenance.on" {
		t.Fatalf("%d ticks switched on, %d sets, events %s (errors %v)", on, v.sw.sets, ev.kinds(), errs)
	}
}

func TestOnAndOffSendTheirEvents(t *testing.T) {
	v := newEnv(t)
	ev := &events{}
	v.e.Notifier = ev
	if _, err := v.e.On(t.Context(), OnRequest{Message: "upgrade", Until: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.e.On(t.Context(), OnRequest{Message: "upgrade, longer", Until: t0.Add(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.e.Off(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	if _, err := v.e.Off(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	if ev.kinds() != "maintenance.on,maintenance.off" {
		t.Fatalf("events: %s", ev.kinds())
	}
	if e := ev.got[0]; e.Actor != "ann" || e.Env != "production" || e.Fields["message"] != "upgrade" || !strings.Contains(e.Summary, "is on (until 2026-11-25T22:00:00Z)") {
		t.Errorf("on event: %+v", e)
	}
	es := v.entries(t)
	if last := string(mustJSON(es[len(es)-1].After)); !strings.Contains(last, `"on":false`) || !strings.Contains(last, `"kind":"maintenance.off","ok":true,"status":200,"target":"ops"`) {
		t.Errorf("history after: %s", last)
	}
}
