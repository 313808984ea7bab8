package rollout

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/analysis"
	"github.com/deployctl/deployctl/pkg/history"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/local/proxy"
	"github.com/deployctl/deployctl/pkg/provider/local/statefs"
)

type fixture struct {
	e      *Engine
	router *proxy.Router
	hist   *statefs.History
	ready  map[provider.Slot]*atomic.Bool
}

func slotServer(t *testing.T, ready *atomic.Bool) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			w.WriteHeader(503)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func newFixture(t *testing.T) *fixture {
	root := t.TempDir()
	fx := &fixture{ready: map[provider.Slot]*atomic.Bool{provider.Blue: {}, provider.Green: {}}, hist: &statefs.History{Dir: root}}
	fx.ready[provider.Blue].Store(true)
	fx.ready[provider.Green].Store(true)
	fx.router = proxy.NewRouter(root, map[provider.Slot]string{
		provider.Blue: slotServer(t, fx.ready[provider.Blue]), provider.Green: slotServer(t, fx.ready[provider.Green])})
	now := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	fx.e = &Engine{
		Router: fx.router, Locker: &statefs.Locker{Dir: root}, Store: &statefs.Store{Dir: root + "/state"}, History: &history.Recorder{Open: func(context.Context) (provider.HistoryLog, error) { return fx.hist, nil }},
		Env: "test", Holder: provider.Holder{Actor: "ann", PID: 42}, Now: func() time.Time { return now },
		Sleep: func(context.Context, time.Duration) error { return nil },
	}
	return fx
}

func (fx *fixture) run(t *testing.T, r Request) (*Result, error) {
	t.Helper()
	if r.Command == "" {
		r.Command = "rollout " + string(r.Op)
	}
	return fx.e.Run(t.Context(), r)
}

func (fx *fixture) state(t *testing.T) State {
	s, _, err := load(t.Context(), fx.e.Store)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestWeightPromoteAbortAndHistory(t *testing.T) {
	fx := newFixture(t)
	if _, err := fx.run(t, Request{Op: OpWeight, Slot: provider.Green, Weight: 10, Reason: "canary"}); err != nil {
		t.Fatal(err)
	}
	s := fx.state(t)
	if s.Active != provider.Blue || s.Candidate != provider.Green || s.Weights[provider.Green] != 10 || s.Pending != nil || s.Revision != 1 {
		t.Fatalf("after green 10: %+v", s)
	}
	if _, err := fx.run(t, Request{Op: OpPromote}); err != nil {
		t.Fatal(err)
	}
	if s = fx.state(t); s.Active != provider.Green || s.Candidate != "" || s.Weights[provider.Green] != 100 {
		t.Fatalf("after promote: %+v", s)
	}
	if _, err := fx.run(t, Request{Op: OpWeight, Slot: provider.Blue, Weight: 30}); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.run(t, Request{Op: OpAbort}); err != nil {
		t.Fatal(err)
	}
	if s = fx.state(t); s.Active != provider.Green || s.Weights[provider.Green] != 100 || s.Aborted == nil || s.Aborted.Slot != provider.Blue {
		t.Fatalf("after abort: %+v", s)
	}
	es, _ := fx.hist.List(t.Context(), provider.Filter{})
	if len(es) != 4 || es[0].Reason != "canary" || es[0].Result != "ok" || es[0].Actor != "ann" {
		t.Fatalf("history: %+v", es)
	}
}

func TestNotReadyChangesNothing(t *testing.T) {
	fx := newFixture(t)
	fx.ready[provider.Green].Store(false)
	_, err := fx.run(t, Request{Op: OpWeight, Slot: provider.Green, Weight: 10})
	if !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("err = %v", err)
	}
	if w, _ := fx.router.Weights(t.Context()); w[provider.Blue] != 100 {
		t.Fatalf("weights changed: %v", w)
	}
	if es, _ := fx.hist.List(t.Context(), provider.Filter{}); len(es) != 0 {
		t.Fatalf("history written: %v", es)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	fx := newFixture(t)
	res, err := fx.run(t, Request{Op: OpWeight, Slot: provider.Green, Steps: []int{10, 50, 100}, DryRun: true})
	if err != nil || len(res.Plan) != 3 || res.Plan[2].After[provider.Green] != 100 {
		t.Fatalf("plan = %+v, %v", res, err)
	}
	if _, _, err := fx.e.Store.Load(t.Context(), StateKey); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("dry run saved state: %v", err)
	}
}

func TestPromoteWithoutCandidate(t *testing.T) {
	fx := newFixture(t)
	if _, err := fx.run(t, Request{Op: OpPromote}); !errors.Is(err, ErrNothing) {
		t.Fatalf("err = %v", err)
	}
}

type fakeAnalyzer struct{ verdicts []analysis.Verdict }

func (f *fakeAnalyzer) Analyze(ctx context.Context, s provider.Slot) (analysis.Report, error) {
	v := f.verdicts[0]
	f.verdicts = f.verdicts[1:]
	return analysis.Report{Slot: s, Verdict: v, Measurements: []analysis.Measurement{{Name: "error_rate", Query: "q", Value: 0.5, Threshold: 0.01, Verdict: v}}}, nil
}

func TestStepsAbortOnFailAndPauseOnInconclusive(t *testing.T) {
	fx := newFixture(t)
	fx.e.Analyzer = &fakeAnalyzer{verdicts: []analysis.Verdict{analysis.Pass, analysis.Fail}}
	res, err := fx.run(t, Request{Op: OpWeight, Slot: provider.Green, Steps: []int{10, 50, 100}})
	var ge *GateError
	if !errors.As(err, &ge) || ge.Verdict != analysis.Fail || ge.Step.Step != 2 || len(res.Reports) != 2 {
		t.Fatalf("fail: %v %+v", err, res)
	}
	if s := fx.state(t); s.Weights[provider.Blue] != 100 || s.Aborted == nil {
		t.Fatalf("after a failed gate: %+v", s)
	}
	fx.e.Analyzer = &fakeAnalyzer{verdicts: []analysis.Verdict{analysis.Inconclusive}}
	_, err = fx.run(t, Request{Op: OpWeight, Slot: provider.Green, Steps: []int{10, 50}})
	if !errors.As(err, &ge) || ge.Verdict != analysis.Inconclusive {
		t.Fatalf("inconclusive: %v", err)
	}
	if s := fx.state(t); s.Weights[provider.Green] != 10 {
		t.Fatalf("paused state should stay at step 1: %+v", s)
	}
}

// TestRepairInterruptedChange: a change whose process died after the data
// plane took it is completed by the next command.
func TestRepairInterruptedChange(t *testing.T) {
	fx := newFixture(t)
	s := Initial()
	next := s.clone()
	next.Weights, next.Candidate, next.Revision = provider.Weights{provider.Blue: 80, provider.Green: 20}, provider.Green, 1
	s.Pending = &Pending{Command: "rollout green --weight 20", PID: 999, Before: jsonOf(s), After: jsonOf(next)}
	if _, err := save(t.Context(), fx.e.Store, s, ""); err != nil {
		t.Fatal(err)
	}
	fx.router.SetWeights(t.Context(), next.Weights) // the data plane got it before the kill
	var notes []string
	fx.e.Notef = func(f string, a ...any) { notes = append(notes, f) }
	res, err := fx.run(t, Request{Op: OpWeight, Slot: provider.Green, Weight: 30})
	if err != nil || res.Repaired == "" || len(notes) == 0 {
		t.Fatalf("res=%+v err=%v notes=%v", res, err, notes)
	}
	if st := fx.state(t); st.Pending != nil || st.Weights[provider.Green] != 30 {
		t.Fatalf("after repair and change: %+v", st)
	}
	es, _ := fx.hist.List(t.Context(), provider.Filter{})
	if len(es) != 2 || es[0].Result != "interrupted" {
		t.Fatalf("history: %+v", es)
	}
}

func TestMalformedStateRefused(t *testing.T) {
	fx := newFixture(t)
	fx.e.Store.Save(t.Context(), StateKey, []byte("{not json"), "")
	if _, err := fx.run(t, Request{Op: OpAbort}); err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Fatalf("err = %v", err)
	}
}

func TestNewerStateFieldsKept(t *testing.T) {
	fx := newFixture(t)
	doc := `{"format":2,"active":"blue","weights":{"blue":100,"green":0},"revision":7,"canary_policy":{"max":20}}`
	if err := fx.e.Store.Save(t.Context(), StateKey, []byte(doc), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.run(t, Request{Op: OpWeight, Slot: provider.Green, Weight: 10}); err != nil {
		t.Fatal(err)
	}
	data, _, _ := fx.e.Store.Load(t.Context(), StateKey)
	if !strings.Contains(string(data), `"canary_policy"`) || !strings.Contains(string(data), `"format": 2`) || !strings.Contains(string(data), `"revision": 8`) {
		t.Fatalf("rewritten state lost a newer field, the format or the revision:\n%s", data)
	}
}

func TestImageUnsupportedChangesNothing(t *testing.T) {
	fx := newFixture(t)
	_, err := fx.run(t, Request{Op: OpWeight, Slot: provider.Green, Weight: 10, Image: "api:v2"})
	if !errors.Is(err, provider.ErrUnsupported) || !strings.Contains(err.Error(), "deploy the new version to the green slot yourself") {
		t.Fatalf("err = %v", err)
	}
	if w, _ := fx.router.Weights(t.Context()); w[provider.Green] != 0 {
		t.Fatalf("weights changed: %v", w)
	}
}

// windowAnalyzer records the window each step was judged by.
type windowAnalyzer struct{ windows []time.Duration }

func (w *windowAnalyzer) Analyze(ctx context.Context, s provider.Slot) (analysis.Report, error) {
	return w.AnalyzeWindow(ctx, s, -1)
}

func (w *windowAnalyzer) AnalyzeWindow(_ context.Context, s provider.Slot, d time.Duration) (analysis.Report, error) {
	w.windows = append(w.windows, d)
	return analysis.Report{Slot: s, Verdict: analysis.Pass}, nil
}

// Each step is judged by the window of its own wait.
func TestStepsAreJudgedByTheirOwnInterval(t *testing.T) {
	fx := newFixture(t)
	w := &windowAnalyzer{}
	fx.e.Analyzer = w
	if _, err := fx.run(t, Request{Op: OpWeight, Slot: provider.Green, Steps: []int{10, 50}, Interval: 90 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if len(w.windows) != 2 || w.windows[0] != 90*time.Second || w.windows[1] != 90*time.Second {
		t.Fatalf("windows %v, want 90s for each step", w.windows)
	}
}
