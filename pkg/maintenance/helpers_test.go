package maintenance

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/history"
	"github.com/deployctl/deployctl/pkg/lock"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/local/statefs"
)

var t0 = time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC)

// clock is a settable fixed clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// memSwitch is a MaintenanceSwitch that keeps the state in memory; the
// local proxy's switch is exercised end to end in internal/cli/maintenance.
type memSwitch struct {
	mu   sync.Mutex
	st   provider.MaintenanceState
	sets int
}

func (m *memSwitch) Maintenance(context.Context) (provider.MaintenanceState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st, nil
}

func (m *memSwitch) SetMaintenance(_ context.Context, st provider.MaintenanceState) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.st, m.sets = st, m.sets+1
	return nil
}

// httpRouter reports slot readiness from real HTTP readiness endpoints.
type httpRouter struct {
	weights provider.Weights
	urls    map[provider.Slot]string
}

func (r *httpRouter) Weights(context.Context) (provider.Weights, error) { return r.weights, nil }
func (r *httpRouter) SetWeights(context.Context, provider.Weights) error {
	return provider.ErrUnsupported
}

func (r *httpRouter) Slot(ctx context.Context, s provider.Slot) (provider.SlotStatus, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", r.urls[s]+"/health/readiness", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return provider.SlotStatus{Slot: s, Detail: err.Error()}, nil
	}
	resp.Body.Close()
	return provider.SlotStatus{Slot: s, Ready: resp.StatusCode == 200, Detail: resp.Status}, nil
}

// readyApp is an application whose readiness the test flips.
func readyApp(t *testing.T) (*httptest.Server, *atomic.Bool) {
	var ready atomic.Bool
	ready.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ready.Load() {
			w.WriteHeader(503)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &ready
}

// env is an engine on the real local state folder (lock, state, history).
type env struct {
	e       *Engine
	sw      *memSwitch
	clk     *clock
	dir     string
	history *statefs.History
	mails   []string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "dev")
	v := &env{sw: &memSwitch{}, clk: &clock{t: t0}, dir: dir, history: &statefs.History{Dir: dir}}
	v.e = &Engine{
		Switch: v.sw, State: &statefs.Store{Dir: filepath.Join(dir, "state")},
		Lock: &lock.Guard{Locker: &statefs.Locker{Dir: dir},
			Holder: func(c string) provider.Holder { return provider.Holder{Actor: "ann", Command: c, PID: 1, Since: t0} }},
		History: &history.Recorder{
			Open:  func(context.Context) (provider.HistoryLog, error) { return v.history, nil },
			Actor: "ann", Now: v.clk.Now, Warnf: func(format string, a ...any) { t.Errorf("history: "+format, a...) },
		},
		Env: "production", Actor: "ann", Now: v.clk.Now,
	}
	return v
}

func (v *env) entries(t *testing.T) []provider.Entry {
	t.Helper()
	es, err := v.history.List(t.Context(), provider.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func (v *env) withMail(fail error) {
	v.e.NotifyTo = []string{"ops@example.com", "team@example.com"}
	v.e.Notify = func(_ context.Context, subject, body string) error {
		if fail != nil {
			return fail
		}
		v.mails = append(v.mails, subject+"\n"+body)
		return nil
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }
