package release

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/analysis"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/local/statefs"
	"github.com/deployctl/deployctl/pkg/rollout"
)

// world is the environment the fake engines act on: what a real one would
// hold in PostgreSQL, the backup folder and the proxy.
type world struct {
	active   provider.Slot
	weights  provider.Weights
	version  int64
	pending  []int64
	backups  []string
	verified []string
	ready    map[provider.Slot]bool
	versions map[provider.Slot]string
	ups      int // migrate up calls that applied something
	gates    [][]string
	// fail makes the next call of the named operation fail once.
	fail map[string]error
	// breach makes the traffic step at that weight breach its analysis.
	breach int
	// during is called inside the named operation (a kill, a Ctrl-C).
	during map[string]func()
	// urls, when set, make the slots URLs (the local proxy): the URL each
	// slot is served from, and what answers at each URL.
	urls     map[provider.Slot]string
	backends map[string]*backend
	prepared []string // slot@url of every Prepare
}

// backend is what answers at a URL.
type backend struct {
	ready   bool
	version string
}

func newWorld() *world {
	return &world{
		active: provider.Blue, weights: provider.Weights{provider.Blue: 100, provider.Green: 0},
		version: 3, pending: []int64{4, 5},
		ready:    map[provider.Slot]bool{provider.Blue: true, provider.Green: true},
		versions: map[provider.Slot]string{provider.Blue: "1.0", provider.Green: "1.1"},
		fail:     map[string]error{}, during: map[string]func(){},
	}
}

func (w *world) hit(op string) error {
	if f := w.during[op]; f != nil {
		delete(w.during, op)
		f()
	}
	if err := w.fail[op]; err != nil {
		delete(w.fail, op)
		return err
	}
	return nil
}

func (w *world) Gate(_ context.Context, only, skip []string) ([]string, string, error) {
	w.gates = append(w.gates, only)
	op := "checklist"
	if only != nil {
		op = "checklist2" // the evidence items, after the backup and the rehearsal
	}
	if err := w.hit(op); errors.Is(err, errItemFailed) {
		return []string{"tests"}, "1 failed", nil
	} else if err != nil {
		return nil, "", err
	}
	return nil, "all passed", nil
}

func (w *world) Create(ctx context.Context, label string) (string, error) {
	if err := w.hit("backup"); err != nil {
		return "", err
	}
	id := fmt.Sprintf("b%d", len(w.backups)+1)
	w.backups = append(w.backups, id)
	return id, ctx.Err()
}

func (w *world) Verify(_ context.Context, id, level string) ([]string, error) {
	if err := w.hit("verify"); err != nil {
		return []string{err.Error()}, nil
	}
	w.verified = append(w.verified, id+"@"+level)
	return nil, nil
}

func (w *world) Current(context.Context) (int64, error)   { return w.version, nil }
func (w *world) Pending(context.Context) ([]int64, error) { return w.pending, nil }
func (w *world) Rehearse(_ context.Context, id string) error {
	if id == "" {
		return errors.New("rehearse without a backup")
	}
	return w.hit("rehearse")
}
func (w *world) Up(context.Context) (int64, error) {
	if err := w.hit("migrate"); err != nil {
		return w.version, err
	}
	if len(w.pending) > 0 {
		w.version, w.pending = w.pending[len(w.pending)-1], nil
		w.ups++
	}
	return w.version, nil
}

func (w *world) Prepare(_ context.Context, slot provider.Slot, image, url string) error {
	if err := w.hit("prepare"); err != nil {
		return err
	}
	w.prepared = append(w.prepared, string(slot)+"@"+url)
	if image != "" {
		w.versions[slot] = image
	}
	if url != "" && w.urls != nil {
		w.urls[slot] = url
	}
	return nil
}
func (w *world) Status(ctx context.Context, slot provider.Slot) (provider.SlotStatus, error) {
	if slot == w.active { // the health check, after the promotion
		if err := w.hit("health"); err != nil {
			return provider.SlotStatus{}, err
		}
	}
	if w.urls != nil {
		return w.Probe(ctx, slot, w.urls[slot])
	}
	return provider.SlotStatus{Slot: slot, Ready: w.ready[slot], Version: w.versions[slot], Detail: "probe"}, nil
}

// URL and Probe make the world's slots URLs when w.urls is set (SlotURLs).
func (w *world) URL(_ context.Context, slot provider.Slot) (string, error) { return w.urls[slot], nil }
func (w *world) Probe(_ context.Context, slot provider.Slot, url string) (provider.SlotStatus, error) {
	b := w.backends[url]
	if b == nil || !b.ready {
		return provider.SlotStatus{Slot: slot, Detail: "GET " + url + "/health/readiness: connection refused"}, nil
	}
	return provider.SlotStatus{Slot: slot, Ready: true, Version: b.version, Detail: "GET " + url + "/health/readiness: 200 OK"}, nil
}

func (w *world) State(context.Context) (rollout.State, error) {
	return rollout.State{Active: w.active, Weights: clone(w.weights)}, nil
}
func (w *world) Weights(context.Context) (provider.Weights, error) { return clone(w.weights), nil }
func (w *world) Step(ctx context.Context, slot provider.Slot, weight int, _ time.Duration, analyse bool) (*rollout.StepReport, error) {
	if err := w.hit(fmt.Sprintf("traffic-%d", weight)); err != nil {
		return nil, err
	}
	w.weights = provider.Weights{slot: weight, slot.Other(): 100 - weight}
	if err := ctx.Err(); err != nil {
		return nil, err // stopped while waiting for the analysis: the weight stays
	}
	rep := &rollout.StepReport{Weight: weight, Report: analysis.Report{Verdict: analysis.Pass}}
	if analyse && weight == w.breach {
		w.weights = provider.Weights{slot: 0, slot.Other(): 100}
		rep.Report.Verdict = analysis.Fail
		return rep, &rollout.GateError{Verdict: analysis.Fail, Step: *rep}
	}
	return rep, nil
}
func (w *world) Promote(context.Context) error {
	if err := w.hit("promote"); err != nil {
		return err
	}
	w.active = w.active.Other()
	return nil
}
func (w *world) Abort(context.Context) error {
	w.weights = provider.Weights{w.active: 100, w.active.Other(): 0}
	return nil
}

// errItemFailed makes the checklist report an item that failed.
var errItemFailed = errors.New("an item failed")

func clone(w provider.Weights) provider.Weights {
	out := provider.Weights{}
	for k, v := range w {
		out[k] = v
	}
	return out
}

type fixture struct {
	t     *testing.T
	w     *world
	e     *Engine
	dir   string
	sent  []string
	notes []string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	fx := &fixture{t: t, w: newWorld(), dir: dir}
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	fx.e = &Engine{
		Store: &statefs.Store{Dir: filepath.Join(dir, "state")}, Locker: &statefs.Locker{Dir: dir},
		Holder: provider.Holder{Actor: "alice", Host: "laptop", PID: 4242}, Env: "staging",
		Now:   func() time.Time { now = now.Add(time.Second); return now },
		Notef: func(format string, a ...any) { fx.notes = append(fx.notes, fmt.Sprintf(format, a...)) },
		Notify: func(_ context.Context, kind, summary string, _ map[string]string) []string {
			fx.sent = append(fx.sent, kind)
			return nil
		},
	}
	fx.e.Deps = Deps{Checklist: fx.w, Backups: fx.w, Migrations: fx.w, Slots: fx.w, Traffic: fx.w}
	return fx
}

func (fx *fixture) request() Request {
	return Request{Weights: []int{10, 50, 100}, Interval: time.Minute, Analyse: true, Command: "release", Reason: "v2"}
}

func (fx *fixture) stored() doc {
	fx.t.Helper()
	d, _, err := load(context.Background(), fx.e.Store)
	if err != nil {
		fx.t.Fatal(err)
	}
	return d
}

func statuses(r Record) string {
	var b []string
	for _, s := range r.Steps {
		b = append(b, s.Name+"="+string(s.Status))
	}
	return strings.Join(b, " ")
}

func TestReleaseRunsEveryStepInOrder(t *testing.T) {
	fx := newFixture(t)
	rec, err := fx.e.Start(context.Background(), fx.request())
	if err != nil {
		t.Fatal(err)
	}
	want := "checklist backup rehearse checklist-evidence migrate prepare traffic-10 traffic-50 traffic-100 promote health"
	if got := strings.Join(Names(Pipeline(rec)), " "); got != want {
		t.Fatalf("steps %q, want %q", got, want)
	}
	if rec.Status != Succeeded || rec.Number != 1 || rec.Name() != "v1" {
		t.Fatalf("release %s %s", rec.Name(), rec.Status)
	}
	for _, s := range rec.Steps {
		if s.Status != StepDone {
			t.Fatalf("step %s is %s: %s", s.Name, s.Status, statuses(*rec))
		}
	}
	w := fx.w
	if w.active != provider.Green || w.weights[provider.Green] != 100 || w.version != 5 || w.ups != 1 {
		t.Fatalf("world after the release: active %s weights %s version %d ups %d", w.active, w.weights, w.version, w.ups)
	}
	if len(w.verified) != 1 || w.verified[0] != "b1@restore" || rec.BackupID != "b1" || rec.VerifyLevel != "restore" {
		t.Fatalf("backup: verified %v, record %s at %s", w.verified, rec.BackupID, rec.VerifyLevel)
	}
	if *rec.MigrationBefore != 3 || *rec.MigrationAfter != 5 || rec.Version != "1.1" {
		t.Fatalf("record: migrations %d→%d version %s", *rec.MigrationBefore, *rec.MigrationAfter, rec.Version)
	}
	// the checklist runs twice: without the items the release proves, then those items on its evidence
	if len(w.gates) != 2 || w.gates[0] != nil || strings.Join(w.gates[1], ",") != "backups,migrations" {
		t.Fatalf("checklist gates %v", w.gates)
	}
	if strings.Join(fx.sent, ",") != "release.started,release.succeeded" {
		t.Fatalf("notifications %v", fx.sent)
	}
	d := fx.stored()
	if d.Next != 2 || len(d.Releases) != 1 || d.Releases[0].Status != Succeeded {
		t.Fatalf("stored: next %d, %d releases", d.Next, len(d.Releases))
	}
	// the second release gets the next number and goes the other way
	fx.w.versions[provider.Blue] = "1.2"
	rec2, err := fx.e.Start(context.Background(), fx.request())
	if err != nil {
		t.Fatal(err)
	}
	if rec2.Number != 2 || rec2.Slot != provider.Blue || rec2.Active != provider.Green || fx.w.active != provider.Blue {
		t.Fatalf("second release %s to %s from %s, active now %s", rec2.Name(), rec2.Slot, rec2.Active, fx.w.active)
	}
}

func TestFailedStepResumesAtThatStep(t *testing.T) {
	fx := newFixture(t)
	fx.w.fail["migrate"] = errors.New("relation already exists")
	_, err := fx.e.Start(context.Background(), fx.request())
	var se *StepError
	if !errors.As(err, &se) || se.Step != "migrate" {
		t.Fatalf("want a StepError at migrate, got %v", err)
	}
	d := fx.stored()
	r := d.Releases[0]
	if r.Status != Failed || r.Steps[r.Current].Name != "migrate" || r.Steps[r.Current].Status != StepFailed || !strings.Contains(r.Error, "relation already exists") {
		t.Fatalf("stored: %s at %d: %s (%s)", r.Status, r.Current, statuses(r), r.Error)
	}
	if fx.w.weights[provider.Blue] != 100 {
		t.Fatalf("traffic moved before the migrations: %s", fx.w.weights)
	}
	// a new release is refused while this one is unfinished
	if _, err := fx.e.Start(context.Background(), fx.request()); !errors.Is(err, ErrUnfinished) || !strings.Contains(err.Error(), "release resume") {
		t.Fatalf("a second release: %v", err)
	}
	rec, err := fx.e.Resume(context.Background(), "release resume")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != Succeeded || len(fx.w.backups) != 1 || fx.w.ups != 1 {
		t.Fatalf("after resume: %s, %d backups, %d migrate ups (the steps before migrate must not run again)", rec.Status, len(fx.w.backups), fx.w.ups)
	}
	if *rec.MigrationBefore != 3 {
		t.Fatalf("migration before %d: the version before the first attempt must be kept", *rec.MigrationBefore)
	}
}

func TestChecklistFailureStopsBeforeAnyChange(t *testing.T) {
	fx := newFixture(t)
	fx.w.fail["checklist"] = errItemFailed
	_, err := fx.e.Start(context.Background(), fx.request())
	if err == nil || !strings.Contains(err.Error(), "the checklist failed (tests)") {
		t.Fatalf("got %v", err)
	}
	if len(fx.w.backups) != 0 || fx.w.ups != 0 || fx.w.weights[provider.Blue] != 100 {
		t.Fatalf("changed after a failed checklist: backups %v ups %d weights %s", fx.w.backups, fx.w.ups, fx.w.weights)
	}
	if !contains(fx.sent, EventFailed) {
		t.Fatalf("no release.failed sent: %v", fx.sent)
	}
}

func TestBackupThatDoesNotVerifyStopsTheRelease(t *testing.T) {
	fx := newFixture(t)
	fx.w.fail["verify"] = errors.New("row counts differ")
	_, err := fx.e.Start(context.Background(), fx.request())
	if err == nil || !strings.Contains(err.Error(), "failed its restore verification: row counts differ") {
		t.Fatalf("got %v", err)
	}
	if fx.w.ups != 0 {
		t.Fatal("migrated on an unverified backup")
	}
	if r := fx.stored().Releases[0]; r.BackupID != "b1" {
		t.Fatalf("the backup's id is not recorded: %q", r.BackupID)
	}
}

func TestInterruptedTrafficStepLeavesTrafficAndResumes(t *testing.T) {
	fx := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	fx.w.during["traffic-50"] = cancel // Ctrl-C while waiting for the 50% analysis
	_, err := fx.e.Start(ctx, fx.request())
	var ie *InterruptedError
	if !errors.As(err, &ie) {
		t.Fatalf("want an InterruptedError, got %v", err)
	}
	for _, want := range []string{"release resume", "release abort", "rollout promote", "traffic stays at"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the message lacks %q: %s", want, err)
		}
	}
	if fx.w.weights[provider.Green] != 50 {
		t.Fatalf("Ctrl-C moved the traffic: %s", fx.w.weights)
	}
	r := fx.stored().Releases[0]
	if r.Status != Interrupted || r.Steps[r.Current].Name != "traffic-50" || r.Traffic[provider.Green] != 50 {
		t.Fatalf("stored: %s at %s, traffic %s", r.Status, r.Steps[r.Current].Name, r.Traffic)
	}
	rec, err := fx.e.Resume(context.Background(), "release resume")
	if err != nil || rec.Status != Succeeded || fx.w.active != provider.Green {
		t.Fatalf("resume: %v, %v, active %s", err, rec, fx.w.active)
	}
}

func TestResumeRefusesTrafficMovedByHand(t *testing.T) {
	fx := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	fx.w.during["traffic-50"] = cancel
	if _, err := fx.e.Start(ctx, fx.request()); err == nil {
		t.Fatal("want an interruption")
	}
	fx.w.weights = provider.Weights{provider.Green: 80, provider.Blue: 20} // someone's `rollout green --weight 80`
	_, err := fx.e.Resume(context.Background(), "release resume")
	if err == nil || !strings.Contains(err.Error(), "the traffic is blue 20 / green 80, but v1 left it at blue 50 / green 50") || !strings.Contains(err.Error(), "left it at") {
		t.Fatalf("got %v", err)
	}
	if fx.w.weights[provider.Green] != 80 {
		t.Fatalf("a refused resume changed the traffic: %s", fx.w.weights)
	}
	if r := fx.stored().Releases[0]; r.Status != Interrupted && r.Status != Running {
		t.Fatalf("a refused resume changed the release: %s", r.Status)
	}
}

func TestAbortSendsTrafficBackAndPrintsTheMigrationCommands(t *testing.T) {
	fx := newFixture(t)
	fx.w.fail["traffic-50"] = errors.New("proxy unreachable")
	if _, err := fx.e.Start(context.Background(), fx.request()); err == nil {
		t.Fatal("want a failure")
	}
	if fx.w.weights[provider.Green] != 10 {
		t.Fatalf("traffic %s", fx.w.weights)
	}
	rec, said, err := fx.e.Abort(context.Background(), "release abort", "5xx")
	if err != nil {
		t.Fatal(err)
	}
	if fx.w.weights[provider.Blue] != 100 || rec.Status != Aborted {
		t.Fatalf("after abort: %s, %s", fx.w.weights, rec.Status)
	}
	all := strings.Join(said, "\n")
	for _, want := range []string{"all traffic back on blue", "NOT rolled back", "deployctl migrate down --to 3 --env staging", "deployctl backup restore b1 --env staging"} {
		if !strings.Contains(all, want) {
			t.Errorf("abort did not say %q:\n%s", want, all)
		}
	}
	if fx.w.version != 5 {
		t.Fatalf("abort touched the migrations: version %d", fx.w.version)
	}
	if _, _, err := fx.e.Abort(context.Background(), "release abort", ""); err == nil || !strings.Contains(err.Error(), "already aborted") {
		t.Fatalf("a second abort: %v", err)
	}
}

func TestBreachAbortsTheRelease(t *testing.T) {
	fx := newFixture(t)
	fx.w.breach = 50
	_, err := fx.e.Start(context.Background(), fx.request())
	if err == nil {
		t.Fatal("want the breach")
	}
	r := fx.stored().Releases[0]
	if r.Status != Aborted || fx.w.weights[provider.Blue] != 100 || fx.w.active != provider.Blue {
		t.Fatalf("after a breach: %s, %s, active %s", r.Status, fx.w.weights, fx.w.active)
	}
	if !contains(fx.sent, EventBreached) || !contains(fx.sent, EventAborted) {
		t.Fatalf("notifications %v", fx.sent)
	}
	// finished: a new release may start
	if _, err := fx.e.Start(context.Background(), fx.request()); err == nil || errors.Is(err, ErrUnfinished) {
		t.Fatalf("after an aborted release: %v", err)
	}
}

func TestPromotedReleaseIsNotAbortedButRolledBack(t *testing.T) {
	fx := newFixture(t)
	if _, err := fx.e.Start(context.Background(), fx.request()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := fx.e.Abort(context.Background(), "release abort", ""); err == nil || !strings.Contains(err.Error(), "deployctl rollback") {
		t.Fatalf("abort of a succeeded release: %v", err)
	}
	// one release only: nothing to roll back to
	if _, _, err := fx.e.Rollback(context.Background(), RollbackRequest{Command: "rollback"}); err == nil || !strings.Contains(err.Error(), "only release") {
		t.Fatalf("rollback with one release: %v", err)
	}
	fx.w.versions[provider.Blue] = "1.2"
	if _, err := fx.e.Start(context.Background(), fx.request()); err != nil { // v2: blue 1.2
		t.Fatal(err)
	}
	// v1's version (1.1) still runs on green, the standby: a rollback only moves traffic
	rec, _, err := fx.e.Rollback(context.Background(), RollbackRequest{Command: "rollback"})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Kind != KindRollback || rec.Number != 3 || rec.RollbackOf != 1 || rec.Image != "" || fx.w.active != provider.Green || fx.w.weights[provider.Green] != 100 {
		t.Fatalf("rollback %s of v%d image %q: active %s %s", rec.Name(), rec.RollbackOf, rec.Image, fx.w.active, fx.w.weights)
	}
	if fx.w.ups != 1 || len(fx.w.backups) != 2 {
		t.Fatalf("the rollback touched the database: ups %d backups %v", fx.w.ups, fx.w.backups)
	}
	// the standby no longer runs v2's version and v2 had no image: refused, nothing changed
	fx.w.versions[provider.Blue] = "9.9"
	if _, _, err := fx.e.Rollback(context.Background(), RollbackRequest{To: 2, Command: "rollback v2"}); err == nil || !strings.Contains(err.Error(), "no image to redeploy") {
		t.Fatalf("rollback to a version no slot runs: %v", err)
	}
}

func TestKilledReleaseResumesFromEveryBoundary(t *testing.T) {
	// A process killed between two saves leaves the record as it was at
	// the last save: a step marked running. Simulated by cutting the
	// release off at each step and resuming from what was stored.
	names := Names(Pipeline(&Record{Kind: KindRelease, Weights: []int{10, 50, 100}}))
	for i, name := range names {
		t.Run(name, func(t *testing.T) {
			fx := newFixture(t)
			killed := errors.New("killed")
			fx.w.fail[opOf(name)] = killed
			if _, err := fx.e.Start(context.Background(), fx.request()); !errors.Is(err, killed) {
				t.Fatalf("step %d %s: %v", i, name, err)
			}
			// what a SIGKILL leaves: the step still marked running, the process gone
			d, version, err := load(context.Background(), fx.e.Store)
			if err != nil {
				t.Fatal(err)
			}
			r := d.latest()
			r.Status, r.Steps[r.Current].Status, r.Error = Running, StepRunning, ""
			if _, err := save(context.Background(), fx.e.Store, d, version); err != nil {
				t.Fatal(err)
			}
			fx.notes = nil
			rec, err := fx.e.Resume(context.Background(), "release resume")
			if err != nil {
				t.Fatalf("resume after a kill at %s: %v", name, err)
			}
			if rec.Status != Succeeded || fx.w.active != provider.Green || fx.w.weights[provider.Green] != 100 || fx.w.ups != 1 {
				t.Fatalf("after resume at %s: %s, active %s %s, ups %d", name, rec.Status, fx.w.active, fx.w.weights, fx.w.ups)
			}
			if !strings.Contains(strings.Join(fx.notes, "\n"), "it was killed; resuming at step \""+name+"\"") {
				t.Fatalf("resume did not say where it went on: %v", fx.notes)
			}
		})
	}
}

// opOf is the world's operation a step calls first.
func opOf(step string) string {
	switch step {
	case "checklist-evidence":
		return "checklist2"
	case "health":
		return "health"
	}
	return step
}

func TestMalformedReleasesDocumentChangesNothing(t *testing.T) {
	fx := newFixture(t)
	p := filepath.Join(fx.dir, "state")
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := fx.e.Store.Save(context.Background(), StateKey, []byte(`{"format":1,"next":1,"releases":[{"number":3,"steps":[]}]}`), ""); err != nil {
		t.Fatal(err)
	}
	_, err := fx.e.Start(context.Background(), fx.request())
	if err == nil || !strings.Contains(err.Error(), "inconsistent") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("got %v", err)
	}
	if len(fx.w.gates) != 0 {
		t.Fatal("a step ran on a malformed document")
	}
	if err := fx.e.Store.Save(context.Background(), StateKey, []byte(`{not json`), mustVersion(t, fx)); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.e.List(context.Background()); err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Fatalf("list: %v", err)
	}
}

func mustVersion(t *testing.T, fx *fixture) string {
	_, v, err := fx.e.Store.Load(context.Background(), StateKey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSecondOperatorIsRefusedWhileAReleaseRuns(t *testing.T) {
	fx := newFixture(t)
	other := *fx.e
	other.Holder.Actor = "bob"
	var got error
	fx.w.during["traffic-10"] = func() { _, got = other.Start(context.Background(), fx.request()) }
	if _, err := fx.e.Start(context.Background(), fx.request()); err != nil {
		t.Fatal(err)
	}
	var le *provider.LockedError
	if !errors.As(got, &le) || le.Holder.Actor != "alice" {
		t.Fatalf("a second release during the first: %v", got)
	}
	if d := fx.stored(); len(d.Releases) != 1 {
		t.Fatalf("%d releases stored", len(d.Releases))
	}
}

func TestRecordRoundTripsAsJSON(t *testing.T) {
	fx := newFixture(t)
	rec, err := fx.e.Start(context.Background(), fx.request())
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"number":1`, `"backup_id":"b1"`, `"migration_before":3`, `"migration_after":5`, `"actor":"alice"`, `"reason":"v2"`, `"verify_level":"restore"`} {
		if !strings.Contains(string(data), key) {
			t.Errorf("the record lacks %s: %s", key, data)
		}
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// gatedTraffic is the world's traffic, whose analysis at one weight comes
// back with a judgement (the rollout engine's *rollout.GateError): a
// breach sends the traffic back to the active slot first, as the rollout
// engine does; an inconclusive one leaves it at the step.
type gatedTraffic struct {
	*world
	weight int
	ge     *rollout.GateError
}

func (g gatedTraffic) Step(ctx context.Context, slot provider.Slot, weight int, interval time.Duration, analyse bool) (*rollout.StepReport, error) {
	if weight != g.weight {
		return g.world.Step(ctx, slot, weight, interval, analyse)
	}
	g.world.weights = provider.Split(slot, weight)
	if g.ge.Verdict == analysis.Fail {
		g.world.weights = provider.Split(slot.Other(), 100)
	}
	rep := g.ge.Step
	return &rep, g.ge
}

func judgement(verdict analysis.Verdict, weight int, ms ...analysis.Measurement) *rollout.GateError {
	return &rollout.GateError{Verdict: verdict, Step: rollout.StepReport{Step: 2, Weight: weight,
		Report: analysis.Report{Slot: provider.Green, Verdict: verdict, Measurements: ms}}}
}

// A traffic step that fails has why in its detail, in the record (what
// `release show` and the final step table print): the measurement of a
// breach against its threshold and where the traffic went; of an
// inconclusive analysis, what had no value; of a refused weight change, the
// refusal and the traffic read back.
func TestFailedTrafficStepRecordsWhyInItsDetail(t *testing.T) {
	errorRate := analysis.Measurement{Name: "error_rate", Query: "sum(rate(…))", Value: 0.5, Threshold: 0.01, Unit: "ratio", Verdict: analysis.Fail}
	p95 := analysis.Measurement{Name: "p95", Query: "histogram_quantile(0.95, …)", Value: 0.0048, Threshold: 0.5, Unit: "seconds", Verdict: analysis.Pass}
	for _, c := range []struct {
		name   string
		set    func(fx *fixture)
		step   string
		status Status
		want   string
	}{
		{"breach", func(fx *fixture) {
			fx.e.Deps.Traffic = gatedTraffic{fx.w, 50, judgement(analysis.Fail, 50, errorRate, p95)}
		}, "traffic-50", Aborted, "analysis breached: error rate 50% > 1%; all traffic back on blue"},
		{"inconclusive", func(fx *fixture) {
			noValue := analysis.Measurement{Name: "error_rate", Threshold: 0.01, Unit: "ratio", Verdict: analysis.Inconclusive, Error: "no data"}
			fx.e.Deps.Traffic = gatedTraffic{fx.w, 50, judgement(analysis.Inconclusive, 50, noValue, p95)}
		}, "traffic-50", Failed, "analysis inconclusive: error rate no data; the traffic stays at blue 50 / green 50"},
		{"refused", func(fx *fixture) {
			fx.w.fail["traffic-50"] = errors.New("slot not ready: green failed its readiness check (GET …: 503); nothing was changed")
		}, "traffic-50", Failed, "the weight change to blue 50 / green 50 failed: slot not ready: green failed its readiness check (GET …: 503); nothing was changed; the traffic is blue 90 / green 10 (read back)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			fx := newFixture(t)
			c.set(fx)
			if _, err := fx.e.Start(context.Background(), fx.request()); err == nil {
				t.Fatal("want the traffic step to fail")
			}
			r := fx.stored().Releases[0]
			s := r.step(c.step)
			if r.Status != c.status || r.Steps[r.Current].Name != c.step || s.Status != StepFailed {
				t.Fatalf("stored: %s at %s: %s", r.Status, r.Steps[r.Current].Name, statuses(r))
			}
			if s.Detail != c.want {
				t.Errorf("the failed step's detail\n got %q\nwant %q", s.Detail, c.want)
			}
		})
	}
}

// A rollback's traffic step moves all traffic at once without analysis, by
// design: its plan (the dry run, the confirmation) says so, and never that
// analysis.prometheus_url is not set, which here it is.
func TestRollbackPlanSaysTrafficMovesAtOnceWithoutAnalysis(t *testing.T) {
	fx := newFixture(t)
	for _, v := range []string{"1.1", "1.2"} {
		fx.w.versions[fx.w.active.Other()] = v
		if _, err := fx.e.Start(context.Background(), fx.request()); err != nil { // analysis configured
			t.Fatal(err)
		}
	}
	rec, steps, err := fx.e.Rollback(context.Background(), RollbackRequest{Command: "rollback", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	rel := &Release{Record: rec}
	var plan string
	for _, s := range steps {
		if s.Name() == "traffic-100" {
			plan = s.Plan(rel)
		}
	}
	if want := "all traffic to green at once: blue 0 / green 100, no analysis: a rollback returns to a release that ran"; plan != want {
		t.Errorf("the rollback's traffic step plan\n got %q\nwant %q", plan, want)
	}
	if strings.Contains(plan, "prometheus_url") {
		t.Errorf("the plan claims a missing setting: %q", plan)
	}
	if d := fx.stored(); len(d.Releases) != 2 {
		t.Fatalf("the dry run recorded a release: %d", len(d.Releases))
	}
}

// On a provider whose slots are URLs, a rollback to a release made with
// --slot-url points the standby slot back at that URL when it is served
// from another one now (through Slots.Prepare, as the release does), after
// checking readiness there; when nothing ready answers there it is refused
// before anything changes, saying what to start there. A slot already
// served from that URL is not pointed again.
func TestRollbackPointsTheSlotBackAtTheTargetsURL(t *testing.T) {
	const b, g, x = "http://127.0.0.1:3001", "http://127.0.0.1:3002", "http://127.0.0.1:3012"
	fx := newFixture(t)
	w := fx.w
	w.urls = map[provider.Slot]string{provider.Blue: b, provider.Green: g}
	w.backends = map[string]*backend{b: {true, "1.0"}, g: {true, "1.1"}, x: {true, "2.0"}}
	release := func(slotURL string) {
		t.Helper()
		r := fx.request()
		r.SlotURL = slotURL
		if _, err := fx.e.Start(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	release("") // v1: green at g, 1.1
	release(x)  // v2: blue pointed at x, 2.0
	release("") // v3: green at g
	release(b)  // v4: blue pointed back at b, 1.0; green (g) is the standby
	w.prepared = nil

	// nothing answers at x: refused, nothing changed
	w.backends[x].ready = false
	_, _, err := fx.e.Rollback(context.Background(), RollbackRequest{To: 2, Command: "rollback v2"})
	if err == nil {
		t.Fatal("a rollback to a URL where nothing answers went ahead")
	}
	for _, want := range []string{"v2 ran at " + x, "connection refused", "start v2's version 2.0 at " + x, "nothing was changed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal lacks %q: %v", want, err)
		}
	}
	if len(w.prepared) != 0 || w.urls[provider.Green] != g || w.active != provider.Blue || w.weights[provider.Blue] != 100 {
		t.Fatalf("a refused rollback changed something: prepared %v, green at %s, active %s, %s", w.prepared, w.urls[provider.Green], w.active, w.weights)
	}
	if d := fx.stored(); len(d.Releases) != 4 {
		t.Fatalf("a refused rollback was recorded: %d releases", len(d.Releases))
	}

	// started again at x: green is pointed there, checked, then serves
	w.backends[x].ready = true
	rec, steps, err := fx.e.Rollback(context.Background(), RollbackRequest{To: 2, Command: "rollback v2", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if plan := steps[0].Plan(&Release{Record: rec}); !strings.Contains(plan, "point the green slot at "+x) || !strings.Contains(plan, "where v2 ran") {
		t.Errorf("the plan's prepare step: %q", plan)
	}
	if len(w.prepared) != 0 {
		t.Fatalf("the dry run pointed a slot: %v", w.prepared)
	}
	rec, _, err = fx.e.Rollback(context.Background(), RollbackRequest{To: 2, Command: "rollback v2"})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != Succeeded || rec.SlotURL != x || rec.Version != "2.0" || rec.Slot != provider.Green {
		t.Fatalf("the rollback: %s, slot %s at %q, version %s", rec.Status, rec.Slot, rec.SlotURL, rec.Version)
	}
	if strings.Join(w.prepared, " ") != "green@"+x || w.urls[provider.Green] != x || w.active != provider.Green || w.weights[provider.Green] != 100 {
		t.Fatalf("after the rollback: prepared %v, green at %s, active %s, %s", w.prepared, w.urls[provider.Green], w.active, w.weights)
	}

	// a slot already served from the target's URL is not pointed again
	fx2 := newFixture(t)
	w2 := fx2.w
	w2.urls = map[provider.Slot]string{provider.Blue: b, provider.Green: g}
	w2.backends = map[string]*backend{b: {true, "1.0"}, g: {true, "1.1"}, x: {true, "2.0"}}
	fx = fx2
	release("") // v1: green
	release(x)  // v2: blue at x
	release("") // v3: green; blue, the standby, still at x
	w2.prepared = nil
	rec, _, err = fx2.e.Rollback(context.Background(), RollbackRequest{To: 2, Command: "rollback v2"})
	if err != nil {
		t.Fatal(err)
	}
	if rec.SlotURL != "" || strings.Join(w2.prepared, " ") != "blue@" || w2.active != provider.Blue || rec.Version != "2.0" {
		t.Fatalf("a rollback to the URL the slot is served from: slot URL %q, prepared %v, active %s, version %s", rec.SlotURL, w2.prepared, w2.active, rec.Version)
	}
}

// A release made without --slot-url records the URL its slot was served
// from (served_from), so that a rollback to it points the standby back
// there once the slots have been pointed elsewhere since: v1 green at its
// setting g (1.1), v2 blue pointed at x, v3 green pointed at y; rolling
// back to v1 points blue, the standby, at g. A URL with credentials is
// never recorded.
func TestRollbackPointsTheSlotBackWhereAReleaseWithoutSlotURLRan(t *testing.T) {
	const b, g, x, y = "http://127.0.0.1:3001", "http://127.0.0.1:3002", "http://127.0.0.1:3012", "http://127.0.0.1:3013"
	fx := newFixture(t)
	w := fx.w
	w.urls = map[provider.Slot]string{provider.Blue: b, provider.Green: g}
	w.backends = map[string]*backend{b: {true, "1.0"}, g: {true, "1.1"}, x: {true, "2.0"}, y: {true, "3.0"}}
	release := func(slotURL string) *Record {
		t.Helper()
		r := fx.request()
		r.SlotURL = slotURL
		rec, err := fx.e.Start(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	if v1 := release(""); v1.ServedFrom != g || v1.SlotURL != "" {
		t.Fatalf("v1: served from %q, slot URL %q; want %s and none", v1.ServedFrom, v1.SlotURL, g)
	}
	if v2 := release(x); v2.ServedFrom != x {
		t.Fatalf("v2: served from %q, want %s", v2.ServedFrom, x)
	}
	release(y) // v3: green at y; blue, the standby, at x
	w.prepared = nil
	rec, _, err := fx.e.Rollback(context.Background(), RollbackRequest{To: 1, Command: "rollback v1"})
	if err != nil {
		t.Fatalf("rollback to v1, which ran at %s: %v", g, err)
	}
	if rec.Status != Succeeded || rec.Slot != provider.Blue || rec.SlotURL != g || rec.ServedFrom != g || rec.Version != "1.1" {
		t.Fatalf("the rollback: %s, slot %s at %q (served from %q), version %s", rec.Status, rec.Slot, rec.SlotURL, rec.ServedFrom, rec.Version)
	}
	if strings.Join(w.prepared, " ") != "blue@"+g || w.active != provider.Blue || w.weights[provider.Blue] != 100 {
		t.Fatalf("after the rollback: prepared %v, active %s, %s", w.prepared, w.active, w.weights)
	}

	// credentials in the URL a slot is served from are not recorded
	const secret = "http://ops:s3cr3t-canary@127.0.0.1:3014"
	w.backends[secret] = &backend{true, "4.0"}
	w.urls[provider.Green] = secret
	if v5 := release(""); v5.ServedFrom != "" {
		t.Fatalf("a URL with credentials was recorded: %q", v5.ServedFrom)
	}
	for _, r := range fx.stored().Releases {
		if strings.Contains(r.ServedFrom+r.SlotURL, "s3cr3t") {
			t.Fatalf("%s holds the password", r.Name())
		}
	}
}
