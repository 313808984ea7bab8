package release_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deployctl/deployctl/internal/testbin"
	"github.com/deployctl/deployctl/internal/testkit"
	"github.com/deployctl/deployctl/pkg/analysis/prometheus/promtest"
	"github.com/deployctl/deployctl/pkg/postgres/pgtest"
)

var (
	pg  *pgtest.Cluster
	bin struct{ deployctl, demoAPI string }
)

func TestMain(m *testing.M) {
	os.Exit(testbin.Main(func(b *testbin.Built) int {
		bin.deployctl, bin.demoAPI = b.Path("deployctl"), b.Path("demo-api")
		return pgtest.Main(m, &pg)
	}, "deployctl", "demo-api"))
}

// errorRate counts a slot without a single 5xx as 0%, not as no data.
const errorRate = `(sum(rate(http_requests_total{slot="{{slot}}",code=~"5.."}[1m])) or vector(0)) / sum(rate(http_requests_total{slot="{{slot}}"}[1m]))`

// project is an operator's checkout on the local provider: demo-api v1
// (blue) and v2 (green) behind `deployctl proxy`, a real database with one
// pending migration, the backup folder, and a real Prometheus scraping the
// slots for the analysis between the traffic steps.
type project struct {
	t                  *testing.T
	dir, url           string
	proxy, blue, green string
	bluePort           int
	greenPort          int
	env                []string
	prom               *promtest.Server
}

func newProject(t *testing.T, greenArgs ...string) *project {
	t.Helper()
	return newProjectWith(t, "", greenArgs...)
}

// newProjectWith is newProject with more of the environment file.
func newProjectWith(t *testing.T, extraYAML string, greenArgs ...string) *project {
	t.Helper()
	promtest.Require(t)
	p := &project{t: t, bluePort: testbin.FreePort(t), greenPort: testbin.FreePort(t), url: pg.NewDatabase(t)}
	pp := testbin.FreePort(t)
	p.proxy = fmt.Sprintf("http://127.0.0.1:%d", pp)
	p.blue, p.green = fmt.Sprintf("http://127.0.0.1:%d", p.bluePort), fmt.Sprintf("http://127.0.0.1:%d", p.greenPort)
	blueAddr, greenAddr := strings.TrimPrefix(p.blue, "http://"), strings.TrimPrefix(p.green, "http://")
	p.prom = promtest.Start(t, promtest.Options{Scrape: []string{blueAddr, greenAddr}})
	yaml := fmt.Sprintf(`variables: {sources: [{type: process}]}
database: {url_from: DATABASE_URL}
traffic:
  local: {listen: "127.0.0.1:%d", slots: {blue: {url: %q}, green: {url: %q}}}
health: {timeout: 2s}
analysis: {prometheus_url: %q, interval: 3s, error_rate_query: %q}
%s`, pp, p.blue, p.green, p.prom.URL, errorRate, extraYAML)
	p.dir = testkit.Project(t, map[string]string{
		"environments/development.yaml": yaml,
		"migrations/00001_orders.sql":   "-- +goose Up\nCREATE TABLE orders (id bigserial PRIMARY KEY, total numeric NOT NULL);\nINSERT INTO orders (total) SELECT g FROM generate_series(1, 1000) g;\n-- +goose Down\nDROP TABLE orders;\n",
	})
	p.env = append(os.Environ(), "DATABASE_URL="+p.url, "NO_COLOR=1")
	testbin.DemoSlot(t, bin.demoAPI, p.dir, "blue", blueAddr, "v1")
	testbin.DemoSlot(t, bin.demoAPI, p.dir, "green", greenAddr, "v2", greenArgs...)
	warm(t, p.prom, p.blue, p.green)
	cmd := exec.Command(bin.deployctl, "proxy", "--poll", "10ms")
	cmd.Dir, cmd.Env = p.dir, append(p.env, "DEPLOYCTL_ACTOR=proxy")
	testbin.StartDaemon(t, cmd, p.proxy+"/-/health")
	p.load() // real users through the proxy: the analysis has numbers
	return p
}

// warm sends one request to each backend and waits until prom has scraped
// its request counter twice: the first analysis of a traffic step to it has
// data however late Prometheus scrapes on a busy host (the counter is
// otherwise born with the step's first request, and a 3s interval then
// holds as few as two 1s scrapes).
func warm(t *testing.T, prom *promtest.Server, backends ...string) {
	t.Helper()
	for _, b := range backends {
		if resp, err := http.Get(b + "/"); err == nil {
			resp.Body.Close()
		}
	}
	for _, b := range backends {
		prom.WaitQuery(t, fmt.Sprintf(`count(rate(http_requests_total{instance=%q}[1m])) > 0`, strings.TrimPrefix(b, "http://")))
	}
}

// load sends requests through the proxy until the test ends.
func (p *project) load() {
	ctx, cancel := context.WithCancel(context.Background())
	p.t.Cleanup(cancel)
	go func() {
		c := &http.Client{Timeout: 2 * time.Second}
		for ctx.Err() == nil {
			p.served(c)
			time.Sleep(5 * time.Millisecond)
		}
	}()
}

// served asks the proxy once and returns the version that answered.
func (p *project) served(c *http.Client) string {
	resp, err := c.Get(p.proxy + "/")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v struct{ Version string }
	_ = json.Unmarshal(b, &v)
	return v.Version
}

type result struct {
	code           int
	stdout, stderr string
}

func (p *project) command(args ...string) *exec.Cmd {
	cmd := exec.Command(bin.deployctl, args...)
	cmd.Dir, cmd.Env = p.dir, append(p.env, "DEPLOYCTL_ACTOR=alice")
	return cmd
}

func (p *project) run(args ...string) result {
	p.t.Helper()
	r := testbin.Run(p.t, p.command(args...))
	return result{r.Code, r.Stdout, r.Stderr}
}

func (p *project) must(args ...string) result {
	p.t.Helper()
	r := p.run(args...)
	if r.code != 0 {
		p.t.Fatalf("deployctl %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// record is the part of a release's JSON the tests read.
type record struct {
	Number          int               `json:"number"`
	Kind            string            `json:"kind"`
	RollbackOf      int               `json:"rollback_of"`
	Status          string            `json:"status"`
	Slot            string            `json:"slot"`
	SlotURL         string            `json:"slot_url"`
	ServedFrom      string            `json:"served_from"`
	BackupID        string            `json:"backup_id"`
	MigrationBefore *int64            `json:"migration_before"`
	MigrationAfter  *int64            `json:"migration_after"`
	Version         string            `json:"version"`
	Traffic         map[string]int    `json:"traffic"`
	Current         int               `json:"current"`
	Steps           []json.RawMessage `json:"steps"`
	Actor           string            `json:"actor"`
	Reason          string            `json:"reason"`
}

type step struct {
	Name, Status, Detail string
}

func (r record) step(i int) step {
	var s step
	_ = json.Unmarshal(r.Steps[i], &s)
	return s
}

func (p *project) releases() []record {
	p.t.Helper()
	var out []record
	r := p.must("releases", "-o", "json")
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		p.t.Fatalf("releases JSON: %v\n%s", err, r.stdout)
	}
	return out
}

// stored reads the newest release from the state file, as a watcher would.
func (p *project) stored() (record, bool) {
	data, err := os.ReadFile(filepath.Join(p.dir, ".deployctl", "development", "state", "releases.json"))
	if err != nil {
		return record{}, false
	}
	var d struct{ Releases []record }
	if json.Unmarshal(data, &d) != nil || len(d.Releases) == 0 {
		return record{}, false
	}
	return d.Releases[len(d.Releases)-1], true
}

// scalar runs a query that returns one number, on the project's database.
func (p *project) scalar(q string) int64 {
	p.t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, p.url)
	if err != nil {
		p.t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int64
	if err := c.QueryRow(ctx, q).Scan(&n); err != nil {
		p.t.Fatal(err)
	}
	return n
}

// applied is the migration versions goose recorded, in order.
func (p *project) applied() []int64 {
	p.t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, p.url)
	if err != nil {
		p.t.Fatal(err)
	}
	defer c.Close(ctx)
	var exists bool
	if err := c.QueryRow(ctx, "SELECT to_regclass('goose_db_version') IS NOT NULL").Scan(&exists); err != nil || !exists {
		return nil
	}
	rows, err := c.Query(ctx, "SELECT version_id FROM goose_db_version WHERE version_id > 0 ORDER BY id")
	if err != nil {
		p.t.Fatal(err)
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		p.t.Fatal(err)
	}
	return vs
}

// servesOnly checks 50 requests through the proxy all reach version.
func (p *project) servesOnly(version string) {
	p.t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	for i := 0; i < 50; i++ {
		if got := p.served(c); got != version {
			p.t.Fatalf("request %d through the proxy reached %q, want only %s", i, got, version)
		}
	}
}

var releaseArgs = []string{"release", "--steps", "50,100", "--skip-checklist", "--reason", "e2e", "--fast", "--yes"}

// One release through to promotion: every step done and recorded, the
// migration applied once, the backup kept, and the users on v2.
func TestE2EReleaseToPromotion(t *testing.T) {
	p := newProject(t)
	dry := p.must(append(releaseArgs, "--dry-run")...)
	for _, want := range []string{"v1", "backup", "rehearse", "migrate", "traffic-50", "traffic-100", "promote", "health"} {
		if !strings.Contains(dry.stdout, want) {
			t.Errorf("the plan lacks %q:\n%s", want, dry.stdout)
		}
	}
	if len(p.applied()) != 0 {
		t.Fatal("--dry-run migrated")
	}
	r := p.must(releaseArgs...)
	if !strings.Contains(r.stderr, "v1 succeeded") || !strings.Contains(r.stderr, "green serves all traffic (read back)") || !strings.Contains(r.stdout, "succeeded (blue → green)") {
		t.Fatalf("release:\n%s%s", r.stdout, r.stderr)
	}
	p.servesOnly("v2")
	rs := p.releases()
	if len(rs) != 1 {
		t.Fatalf("%d releases", len(rs))
	}
	rec := rs[0]
	if rec.Number != 1 || rec.Status != "succeeded" || rec.Slot != "green" || rec.Actor != "alice" || rec.Reason != "e2e" ||
		rec.BackupID == "" || *rec.MigrationBefore != 0 || *rec.MigrationAfter != 1 || rec.Version != "v2" {
		t.Fatalf("the record: %+v", rec)
	}
	for i := range rec.Steps {
		if s := rec.step(i); s.Status != "done" && !(s.Name == "checklist" || s.Name == "checklist-evidence") {
			t.Errorf("step %s is %s", s.Name, s.Status)
		}
	}
	if s := rec.step(0); s.Status != "skipped" || !strings.Contains(s.Detail, "e2e") {
		t.Errorf("the skipped checklist: %+v", s)
	}
	if got := p.applied(); len(got) != 1 || got[0] != 1 {
		t.Fatalf("goose applied %v", got)
	}
	if list := p.must("backup", "list", "-o", "json"); !strings.Contains(list.stdout, rec.BackupID) {
		t.Fatalf("the release's backup %s is not listed:\n%s", rec.BackupID, list.stdout)
	}
	show := p.must("release", "show", "v1")
	if !strings.Contains(show.stdout, "traffic-50") || !strings.Contains(show.stdout, "promote") {
		t.Fatalf("release show:\n%s", show.stdout)
	}
	hist := p.must("history", "-o", "json")
	if !strings.Contains(hist.stdout, "release v1") {
		t.Fatalf("history lacks the release:\n%s", hist.stdout)
	}
}

// A candidate failing half its real requests breaches the analysis at the
// first traffic step: all traffic back on blue, the release aborted, the
// migration kept and the commands to undo it printed.
func TestE2EReleaseAbortedByABreach(t *testing.T) {
	p := newProject(t, "--error-rate", "0.5")
	r := p.run(releaseArgs...)
	if r.code != 1 {
		t.Fatalf("a breached release: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	p.servesOnly("v1")
	rec := p.releases()[0]
	if rec.Status != "aborted" || rec.step(rec.Current).Name != "traffic-50" {
		t.Fatalf("the record: %s at %s", rec.Status, rec.step(rec.Current).Name)
	}
	if !strings.Contains(r.stderr+r.stdout, "migrate down --to 0") {
		t.Errorf("the breach did not print the migration's way back:\n%s%s", r.stdout, r.stderr)
	}
	if got := p.applied(); len(got) != 1 {
		t.Fatalf("the migration was undone automatically: %v", got)
	}
	// the record says why the step failed: `release show` has it, in JSON
	// and in its table, on the failed step's row
	var shown record
	if out := p.must("release", "show", "v1", "-o", "json"); json.Unmarshal([]byte(out.stdout), &shown) != nil {
		t.Fatalf("release show -o json:\n%s", out.stdout)
	}
	failed := shown.step(shown.Current)
	breached := regexp.MustCompile(`^analysis breached: error rate [0-9.]+% > 1%; all traffic back on blue$`)
	if failed.Name != "traffic-50" || failed.Status != "failed" || !breached.MatchString(failed.Detail) {
		t.Errorf("release show v1 -o json: the failed step is %+v, want its detail to say what breached", failed)
	}
	if table := p.must("release", "show", "v1").stdout; failed.Detail == "" || !strings.Contains(rowOf(table, "traffic-50"), failed.Detail) {
		t.Errorf("release show v1: the traffic-50 row lacks %q:\n%s", failed.Detail, table)
	}
	// finished: the next release may start (and is v2)
	if s := p.must("release", "--dry-run", "--skip-checklist", "--reason", "retry"); !strings.Contains(s.stdout, "v2") {
		t.Fatalf("the next release's plan:\n%s", s.stdout)
	}
}

// Killed with SIGKILL in the middle of a step (the steps that take time:
// a step quicker than the watcher is killed at the next one; every boundary
// is covered in pkg/release), the release is resumed by `release resume`
// at that step and goes through: one migration applied,
// the users on v2, the release numbered once.
func TestE2EReleaseKilledAndResumed(t *testing.T) {
	for _, at := range []string{"backup", "rehearse", "migrate", "traffic-50", "traffic-100"} {
		t.Run(at, func(t *testing.T) {
			p := newProject(t)
			cmd := p.command(releaseArgs...)
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			// the kill lands at the step, or at the first step seen after
			// it when it was too quick to be seen running
			want := stepIndex(at)
			testkit.WaitFor(t, "step "+at+" running", 60*time.Second, func() bool {
				select {
				case err := <-done:
					t.Fatalf("the release ended (%v) before step %s:\n%s", err, at, out.String())
				default:
				}
				rec, ok := p.stored()
				return ok && rec.Current >= want && rec.Current < len(rec.Steps) && rec.step(rec.Current).Status == "running"
			})
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-done
			rec, _ := p.stored()
			killedAt := rec.step(rec.Current).Name
			if rec.Status != "running" || rec.Current < want {
				t.Fatalf("after the kill the record says %s at %s", rec.Status, killedAt)
			}
			t.Logf("killed at step %s", killedAt)
			// a new release is refused, naming the way on
			if r := p.run(releaseArgs...); r.code == 0 || !strings.Contains(r.stderr, "release resume") {
				t.Fatalf("a new release over a killed one: exit %d\n%s", r.code, r.stderr)
			}
			// a rehearsal killed after it created its scratch database leaves it,
			// which the resumed release's rehearsal names
			// (once the killed restore's sessions on it are gone)
			testkit.WaitFor(t, "no session on a scratch database", 10*time.Second, func() bool {
				return p.scalar("SELECT count(*) FROM pg_stat_activity WHERE datname LIKE 'deployctl\\_rehearse\\_%'") == 0
			})
			left := p.scalar("SELECT count(*) FROM pg_database WHERE datname LIKE 'deployctl\\_rehearse\\_%'")
			r := p.must("release", "resume")
			if !strings.Contains(r.stderr, "it was killed; resuming at step \""+killedAt+"\"") || !strings.Contains(r.stderr, "v1 succeeded") {
				t.Fatalf("resume:\n%s%s", r.stdout, r.stderr)
			}
			if left > 0 && stepIndex(killedAt) <= stepIndex("rehearse") && !strings.Contains(r.stderr, "is left from a rehearsal that was stopped") {
				t.Errorf("the killed rehearsal's scratch database is not reported:\n%s", r.stderr)
			}
			p.servesOnly("v2")
			if got := p.applied(); len(got) != 1 {
				t.Fatalf("goose applied %v", got)
			}
			if rs := p.releases(); len(rs) != 1 || rs[0].Status != "succeeded" {
				t.Fatalf("releases after the resume: %+v", rs)
			}
		})
	}
}

// Ctrl-C while a traffic step waits for its analysis leaves the traffic
// where it is, says so with the three ways on, and exits 130; abort then
// sends every user back to blue at once and says the migration stays.
func TestE2EReleaseInterruptedThenAborted(t *testing.T) {
	p := newProject(t)
	cmd := p.command(releaseArgs...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, "step traffic-50 running", 60*time.Second, func() bool {
		rec, ok := p.stored()
		return ok && rec.Current < len(rec.Steps) && rec.step(rec.Current).Name == "traffic-50" && rec.step(rec.Current).Status == "running" && rec.Traffic["green"] == 0
	})
	time.Sleep(500 * time.Millisecond) // the weight is set; the analysis waits 3 s
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Fatalf("Ctrl-C: %v, want exit 130\n%s", err, stderr.String())
	}
	for _, want := range []string{"interrupted at step traffic-50", "blue 50 / green 50", "release resume", "release abort", "rollout promote"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("Ctrl-C did not say %q:\n%s", want, stderr.String())
		}
	}
	if rec := p.releases()[0]; rec.Status != "interrupted" || rec.Traffic["green"] != 50 {
		t.Fatalf("the record after Ctrl-C: %+v", rec)
	}
	r := p.must("release", "abort", "--yes", "--reason", "changed my mind")
	for _, want := range []string{"all traffic back on blue", "NOT rolled back", "migrate down --to 0"} {
		if !strings.Contains(r.stdout+r.stderr, want) {
			t.Errorf("abort did not say %q:\n%s%s", want, r.stdout, r.stderr)
		}
	}
	p.servesOnly("v1")
	if rec := p.releases()[0]; rec.Status != "aborted" {
		t.Fatalf("after abort: %s", rec.Status)
	}
	if got := p.applied(); len(got) != 1 {
		t.Fatalf("abort touched the migrations: %v", got)
	}
}

// stepIndex is the place of a step in the release of releaseArgs.
func stepIndex(name string) int {
	for i, n := range []string{"checklist", "backup", "rehearse", "checklist-evidence", "migrate", "prepare", "traffic-50", "traffic-100", "promote", "health"} {
		if n == name {
			return i
		}
	}
	panic(name)
}

// A release's events reach a real webhook, signed with the secret the
// environment's variables hold; a target that answers 500 is a warning on
// the release, which succeeds all the same, and the secret is never shown.
func TestE2EReleaseNotifies(t *testing.T) {
	const secret = "CANARY-webhook-secret-7f3a"
	type got struct {
		kind, sig string
		body      []byte
	}
	events := make(chan got, 20)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		events <- got{r.Header.Get("X-Deployctl-Event"), r.Header.Get("X-Deployctl-Signature"), b}
	}))
	defer hook.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer broken.Close()
	p := newProjectWith(t, fmt.Sprintf(`notify:
  targets:
    - {name: ops, type: webhook, url_from: OPS_HOOK, secret_from: OPS_SECRET, events: [release.started, release.succeeded]}
    - {name: pager, type: webhook, url: %q, events: [release.succeeded]}
`, broken.URL))
	p.env = append(p.env, "OPS_HOOK="+hook.URL, "OPS_SECRET="+secret)
	r := p.must(releaseArgs...)
	if !strings.Contains(r.stderr, "pager") || !strings.Contains(r.stderr, "500") {
		t.Errorf("the failed delivery is not shown:\n%s", r.stderr)
	}
	var kinds []string
	for len(kinds) < 2 {
		select {
		case e := <-events:
			mac := hmac.New(sha256.New, []byte(secret))
			mac.Write(e.body)
			if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); e.sig != want {
				t.Errorf("%s: signature %q, want %q", e.kind, e.sig, want)
			}
			var ev struct {
				Kind   string            `json:"kind"`
				Env    string            `json:"env"`
				Fields map[string]string `json:"fields"`
			}
			if err := json.Unmarshal(e.body, &ev); err != nil || ev.Kind != e.kind || ev.Env != "development" || ev.Fields["release"] != "v1" {
				t.Errorf("event %s: %s (%v)", e.kind, e.body, err)
			}
			kinds = append(kinds, e.kind)
		case <-time.After(10 * time.Second):
			t.Fatalf("events received: %v", kinds)
		}
	}
	if strings.Join(kinds, ",") != "release.started,release.succeeded" {
		t.Errorf("events %v", kinds)
	}
	show := p.must("release", "show", "v1", "-o", "json")
	if !strings.Contains(show.stdout, "pager") {
		t.Errorf("the failed delivery is not recorded on the release:\n%s", show.stdout)
	}
	for _, out := range []string{r.stdout, r.stderr, show.stdout, p.must("history", "-o", "json").stdout} {
		if strings.Contains(out, secret) {
			t.Fatal("the webhook secret leaked")
		}
	}
}
