package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deployctl/deployctl/pkg/postgres/pgtest"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/aws/alb/albtest"
	"github.com/deployctl/deployctl/pkg/provider/aws/s3state"
	"github.com/deployctl/deployctl/pkg/provider/aws/s3store/s3test"
)

// team is two operators' folders (ann releases, bob looks from another
// machine) on one production environment: the fake load balancer, the lock,
// the releases and the history in a real S3 server (versitygw), the backups
// in the same bucket, a real PostgreSQL whose DATABASE_URL (its password is
// the secret canary) comes from the fake Secrets Manager, and a fake
// Prometheus that answers the checklist's alert rules and the analysis of
// every traffic step, noting the weights the load balancer had then.
type team struct {
	ann, bob *project
	prom     *prom
	db       string
	bucket   string
	gw       *s3test.Gateway
}

const migration1 = "-- +goose Up\nCREATE TABLE orders (id bigserial PRIMARY KEY, total numeric NOT NULL);\nINSERT INTO orders (total) SELECT g FROM generate_series(1, 100) g;\n-- +goose Down\nDROP TABLE orders;\n"
const migration2 = "-- +goose Up\nALTER TABLE orders ADD COLUMN note text;\n-- +goose Down\nALTER TABLE orders DROP COLUMN note;\n"

func newTeam(t *testing.T) *team {
	t.Helper()
	if why := pgtest.Available(); why != "" {
		t.Fatalf("PostgreSQL needed: %s", why)
	}
	cl, err := pgtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Stop)
	u, err := url.Parse(cl.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	tm := &team{db: cl.CreateRole(t, "app", canary, strings.TrimPrefix(u.Path, "/")), gw: s3test.StartGateway(t)}
	tm.bucket = tm.gw.NewBucket(t)
	tm.ann = newProject(t)
	tm.prom = startProm(t, tm.ann)
	tm.bob = &project{t: t, dir: t.TempDir(), alb: tm.ann.alb, sm: tm.ann.sm, rule: tm.ann.rule}
	secret, _ := json.Marshal(map[string]string{"NODE_ENV": "production", "DATABASE_URL": tm.db})
	tm.ann.sm.Put("api/production", string(secret))
	for actor, p := range map[string]*project{"ann": tm.ann, "bob": tm.bob} {
		p.awsEnv = []string{"AWS_ACCESS_KEY_ID=" + s3test.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s3test.SecretKey}
		p.env = []string{"DEPLOYCTL_ACTOR=" + actor}
		p.stateYAML = fmt.Sprintf("    state: {bucket: %s, prefix: deployctl, endpoint: %q, path_style: true}", tm.bucket, tm.gw.URL)
		p.moreYAML = fmt.Sprintf(`database: {url_from: DATABASE_URL}
migrations: {dir: migrations}
backup:
  storage: {provider: s3, bucket: %s, prefix: backups, region: %s, endpoint: %q, path_style: true}
analysis: {prometheus_url: %q, interval: 1s}
checklist:
  tests: {run: "true"}
  performance: {summary: perf.json}
  rollback: {runbook: docs/runbook.md}
  monitoring: {alerts: [HighErrorRate, HighLatency]}
  waivers:
    - {id: security, reason: no scanner on the test machine, expires: %s}
`, tm.bucket, s3test.Region, tm.gw.URL, tm.prom.URL, time.Now().AddDate(0, 1, 0).Format("2006-01-02"))
		p.writeEnv(p.alb.URL)
	}
	tm.ann.write("migrations/00001_orders.sql", migration1)
	tm.ann.write("docs/runbook.md", "# Rollback\n\n`deployctl rollback -e production`\n")
	tm.ann.write("perf.json", `{"error_rate": 0.002, "p95_ms": 180}`)
	return tm
}

// prom is a fake Prometheus: the alert rules the checklist asks for, and an
// error rate of 0 and a P95 of 120 ms for any slot, noting at each query the
// weights the load balancer had then; onQuery (when set) runs before the
// answer, with those weights.
type prom struct {
	URL     string
	mu      sync.Mutex
	seen    []seen
	onQuery func(seen)
}

// seen is one analysis query: the slot judged and the weights (blue/green)
// in effect on the load balancer at that moment.
type seen struct{ slot, weights string }

var slotLabel = regexp.MustCompile(`slot="(blue|green)"`)

func startProm(t *testing.T, p *project) *prom {
	pr := &prom{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v1/rules":
			fmt.Fprint(w, `{"status":"success","data":{"groups":[{"name":"api","rules":[`+
				`{"name":"HighErrorRate","query":"error_rate > 0.01","health":"ok","state":"inactive","type":"alerting"},`+
				`{"name":"HighLatency","query":"p95 > 0.5","health":"ok","state":"inactive","type":"alerting"}]}]}}`)
		case "/api/v1/query":
			q := r.URL.Query().Get("query")
			m := slotLabel.FindStringSubmatch(q)
			if m == nil {
				http.Error(w, `{"status":"error","errorType":"bad_data","error":"no slot"}`, http.StatusBadRequest)
				return
			}
			wt := p.weights()
			s := seen{slot: m[1], weights: wt[blueTG] + "/" + wt[greenTG]}
			pr.mu.Lock()
			pr.seen = append(pr.seen, s)
			hook := pr.onQuery
			pr.mu.Unlock()
			if hook != nil {
				hook(s)
			}
			v := "0"
			if strings.Contains(q, "duration") {
				v = "0.12"
			}
			fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[%d,%q]}]}}`, time.Now().Unix(), v)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	pr.URL = srv.URL
	return pr
}

// judged is the weights (blue/green) the analysis saw while it judged slot,
// each once, in order, and forgets them.
func (pr *prom) judged(slot string) []string {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	var out []string
	for _, s := range pr.seen {
		if s.slot == slot && (len(out) == 0 || out[len(out)-1] != s.weights) {
			out = append(out, s.weights)
		}
	}
	pr.seen = nil
	return out
}

func (pr *prom) hook(f func(seen)) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.onQuery = f
}

// record is the part of a release's JSON the tests read.
type record struct {
	Number          int            `json:"number"`
	Kind            string         `json:"kind"`
	Status          string         `json:"status"`
	Actor           string         `json:"actor"`
	Reason          string         `json:"reason"`
	Slot            string         `json:"slot"`
	Active          string         `json:"active"`
	Image           string         `json:"image"`
	Version         string         `json:"version"`
	BackupID        string         `json:"backup_id"`
	VerifyLevel     string         `json:"verify_level"`
	MigrationBefore *int64         `json:"migration_before"`
	MigrationAfter  *int64         `json:"migration_after"`
	RollbackOf      int            `json:"rollback_of"`
	Traffic         map[string]int `json:"traffic"`
	Current         int            `json:"current"`
	Error           string         `json:"error"`
	Steps           []struct {
		Name, Status, Detail string
	} `json:"steps"`
}

func (r record) at() string {
	if r.Current < len(r.Steps) {
		return r.Steps[r.Current].Name
	}
	return "end"
}

func (r record) step(name string) string {
	for _, s := range r.Steps {
		if s.Name == name {
			return s.Status + ": " + s.Detail
		}
	}
	return "no step " + name
}

func migration(v *int64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprint(*v)
}

// releases is `deployctl releases -o json` run in p's folder.
func (p *project) releases() []record {
	p.t.Helper()
	var out []record
	r := p.must("releases", "-o", "json")
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		p.t.Fatalf("releases -o json: %v\n%s", err, r.stdout)
	}
	return out
}

// applied is the migration versions goose recorded in the database.
func (tm *team) applied(t *testing.T) []int64 {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, tm.db)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var exists bool
	if err := c.QueryRow(ctx, "SELECT to_regclass('goose_db_version') IS NOT NULL").Scan(&exists); err != nil || !exists {
		return nil
	}
	rows, err := c.Query(ctx, "SELECT version_id FROM goose_db_version WHERE version_id > 0 AND is_applied ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// split is the rule's weights on the fake load balancer, as blue/green.
func (p *project) split() string {
	w := p.weights()
	return w[blueTG] + "/" + w[greenTG]
}

var releaseArgs = []string{"release", "--steps", "10,100", "--interval", "1s", "--reason", "2.0", "--yes"}

// A release on the load balancer runs the real gate, backs up to S3,
// rehearses and applies the migration, then shifts the rule's weights step
// by step to the green target group, which runs what it runs (no --image
// on ALB), and promotes it; another operator sees it through the bucket. A
// second release goes back to blue, and rollback returns the traffic to
// v1's slot without touching the database.
func TestReleaseAndRollbackOnTheLoadBalancer(t *testing.T) {
	tm := newTeam(t)
	ann, bob := tm.ann, tm.bob

	// v1: blue → green
	r := ann.must(releaseArgs...)
	t.Logf("release v1:\n%s%s", r.stdout, r.stderr)
	if !strings.Contains(r.stderr, "v1 succeeded") || !strings.Contains(r.stdout, "succeeded (blue → green)") {
		t.Fatalf("release v1:\n%s%s", r.stdout, r.stderr)
	}
	if got := tm.prom.judged("green"); strings.Join(got, " ") != "90/10 0/100" {
		t.Errorf("the load balancer's weights while green was judged: %v, want 90/10 then 0/100", got)
	}
	if s := ann.split(); s != "0/100" {
		t.Fatalf("weights after v1: %s", s)
	}
	if got := tm.applied(t); fmt.Sprint(got) != "[1]" {
		t.Fatalf("goose applied %v after v1", got)
	}

	// bob's folder: same bucket, no local state
	rs := bob.releases()
	if len(rs) != 1 {
		t.Fatalf("bob sees %d releases: %+v", len(rs), rs)
	}
	v1 := rs[0]
	if v1.Number != 1 || v1.Kind != "release" || v1.Status != "succeeded" || v1.Slot != "green" || v1.Active != "blue" || v1.Actor != "ann" || v1.Reason != "2.0" ||
		v1.BackupID == "" || v1.VerifyLevel != "restore" || migration(v1.MigrationBefore) != "0" || migration(v1.MigrationAfter) != "1" || v1.Traffic["green"] != 100 ||
		v1.Image != "" || v1.Version != "targets i-1:80" {
		t.Fatalf("v1 as bob reads it: %+v", v1)
	}
	for _, s := range v1.Steps {
		if s.Status != "done" {
			t.Errorf("v1 step %s: %s %s", s.Name, s.Status, s.Detail)
		}
	}
	for name, want := range map[string]string{
		"checklist":   "4 passed, 1 warned, 0 failed", // security waived
		"traffic-10":  "blue 90 / green 10 in effect (read back); analysis pass",
		"traffic-100": "blue 0 / green 100 in effect (read back); analysis pass",
		"promote":     "green active",
	} {
		if got := v1.step(name); !strings.Contains(got, want) {
			t.Errorf("v1 step %s: %q, want %q", name, got, want)
		}
	}
	if list := bob.must("backup", "list", "-o", "json"); !strings.Contains(list.stdout, v1.BackupID) {
		t.Errorf("bob does not see v1's backup %s in the bucket:\n%s", v1.BackupID, list.stdout)
	}

	// v2: green → blue, with a second migration
	ann.write("migrations/00002_note.sql", migration2)
	r = ann.must(releaseArgs...)
	if !strings.Contains(r.stderr, "v2 succeeded") || !strings.Contains(r.stdout, "succeeded (green → blue)") {
		t.Fatalf("release v2:\n%s%s", r.stdout, r.stderr)
	}
	if got := tm.prom.judged("blue"); strings.Join(got, " ") != "10/90 100/0" {
		t.Errorf("the load balancer's weights while blue was judged: %v, want 10/90 then 100/0", got)
	}
	if s := ann.split(); s != "100/0" {
		t.Fatalf("weights after v2: %s", s)
	}

	// green redeployed since v1 (other targets): rollback to v1 is refused
	ann.alb.SetHealth(greenTG, albtest.Target{ID: "i-9", State: "healthy"})
	r = ann.run("rollback", "--yes", "--reason", "v2 is slow")
	t.Logf("rollback onto a redeployed green:\n%s%s", r.stdout, r.stderr)
	if r.code != 1 || !strings.Contains(r.stderr, "runs targets i-9:80, not targets i-1:80 of v1") {
		t.Fatalf("rollback to a target group that no longer runs v1: exit %d, want 1 naming both", r.code)
	}
	if s := ann.split(); s != "100/0" {
		t.Fatalf("the refused rollback moved the weights to %s", s)
	}
	ann.alb.SetHealth(greenTG, albtest.Target{ID: "i-1", State: "healthy"})

	// rollback to v1: green again, the schema stays at 2
	r = ann.must("rollback", "--yes", "--reason", "v2 is slow")
	t.Logf("rollback:\n%s%s", r.stdout, r.stderr)
	if !strings.Contains(r.stderr+r.stdout, "back on v1") || !strings.Contains(r.stderr+r.stdout, "the database was not touched") {
		t.Fatalf("rollback:\n%s%s", r.stdout, r.stderr)
	}
	if s := ann.split(); s != "0/100" {
		t.Fatalf("weights after the rollback: %s", s)
	}
	if got := tm.prom.judged("green"); len(got) != 0 {
		t.Errorf("the rollback waited for an analysis of green at %v; it returns all traffic at once", got)
	}
	if got := tm.applied(t); fmt.Sprint(got) != "[1 2]" {
		t.Fatalf("goose versions after the rollback: %v, want [1 2] (a rollback never touches the database)", got)
	}

	rs = bob.releases()
	got := ""
	for _, r := range rs {
		got += fmt.Sprintf("v%d %s %s %s %s→%s; ", r.Number, r.Kind, r.Status, r.Slot, migration(r.MigrationBefore), migration(r.MigrationAfter))
	}
	if want := "v3 rollback succeeded green -→-; v2 release succeeded blue 1→2; v1 release succeeded green 0→1; "; got != want {
		t.Fatalf("releases as bob reads them:\n got %s\nwant %s", got, want)
	}
	if rs[0].RollbackOf != 1 || rs[0].BackupID != "" || rs[0].Reason != "v2 is slow" || rs[0].Version != v1.Version || rs[0].Traffic["green"] != 100 ||
		rs[1].BackupID == "" || rs[1].BackupID == v1.BackupID || rs[1].Version != "targets i-1:80" {
		t.Errorf("records: %+v", rs)
	}
	if h := bob.must("history"); !strings.Contains(h.stdout, "release v1") || !strings.Contains(h.stdout, "rollback") {
		t.Errorf("bob's history lacks the releases:\n%s", h.stdout)
	}
	if st := bob.must("rollout", "status", "-o", "json"); !strings.Contains(st.stdout, `"active": "green"`) {
		t.Errorf("rollout status after the rollback:\n%s", st.stdout)
	}
}

// ALB target groups run what they run: deployctl cannot deploy an image to
// one, so `release --image` is a usage error (exit 2, CLI.md) that says
// what to do instead, refused before anything changes — before the
// backup, and above all before the migrations.
func TestReleaseWithImageIsRefusedOnTheLoadBalancer(t *testing.T) {
	tm := newTeam(t)
	r := tm.ann.run(append(releaseArgs, "--image", "example/api:2.0")...)
	t.Logf("release --image:\n%s%s", r.stdout, r.stderr)
	if r.code != 2 {
		t.Errorf("release --image on aws-alb: exit %d, want 2 (a flag this provider cannot honour)", r.code)
	}
	if !strings.Contains(r.stderr, "not supported") || !strings.Contains(r.stderr, "release without --image") {
		t.Errorf("release --image on aws-alb does not say it is not supported and what to do instead")
	}
	if got := tm.applied(t); len(got) != 0 {
		t.Errorf("the refused release --image migrated the database to %v", got)
	}
	if s := tm.ann.split(); s != "1/0" || tm.ann.alb.CallCount("ModifyRule") != 0 {
		t.Errorf("the refused release --image touched the rule: %s", s)
	}
	if rs := tm.bob.releases(); len(rs) != 0 {
		t.Errorf("the refused release --image was recorded as v1, %s at step %s: the next release must resume or abort it", rs[0].Status, rs[0].at())
	}
}

// The real gate finds the green target group unhealthy (the checklist's
// rollback item) and stops the release before anything changes; aborted,
// and released again past the gate, it stops at prepare — the backup
// taken and the migration applied, but no traffic moved — and resumes once
// green is healthy; unhealthy again after the first traffic step, the next
// step is refused and the traffic stays where it was. While another
// operator holds the S3 lock, resume is refused (exit 3); resumed once
// more, the release succeeds.
func TestReleaseStoppedByAnUnhealthyTargetGroupAndResumed(t *testing.T) {
	tm := newTeam(t)
	ann, bob := tm.ann, tm.bob
	unhealthy := albtest.Target{ID: "i-1", State: "unhealthy", Reason: "Target.FailedHealthChecks"}
	healthy := albtest.Target{ID: "i-1", State: "healthy"}

	ann.alb.SetHealth(greenTG, unhealthy)
	r := ann.run(releaseArgs...)
	t.Logf("release, the gate on an unhealthy standby:\n%s%s", r.stdout, r.stderr)
	if r.code != 1 || !strings.Contains(r.stderr, "the standby slot green is not healthy") {
		t.Fatalf("release onto an unhealthy target group: exit %d, want 1 naming the slot", r.code)
	}
	v1 := bob.releases()[0]
	if v1.Status != "failed" || v1.at() != "checklist" || v1.BackupID != "" {
		t.Fatalf("v1 after the gate: %s at %s, backup %q", v1.Status, v1.at(), v1.BackupID)
	}
	if got := tm.applied(t); len(got) != 0 {
		t.Fatalf("the gate let the migration through: %v", got)
	}
	ann.must("release", "abort", "--yes", "--reason", "green is down")
	if v1 = bob.releases()[0]; v1.Status != "aborted" {
		t.Fatalf("v1 after abort: %s", v1.Status)
	}

	// past the gate by hand: stopped at prepare, traffic all on blue
	skip := []string{"release", "--steps", "10,100", "--interval", "1s", "--skip-checklist", "--reason", "hotfix, gate checked by hand", "--yes"}
	r = ann.run(skip...)
	t.Logf("release --skip-checklist onto an unhealthy target group:\n%s%s", r.stdout, r.stderr)
	if r.code != 1 || !strings.Contains(r.stderr, "the green slot is not ready") || !strings.Contains(r.stderr, "1 unhealthy (Target.FailedHealthChecks)") || !strings.Contains(r.stderr, "release resume") {
		t.Fatalf("release onto an unhealthy target group: exit %d, want 1 naming the target health and resume", r.code)
	}
	if s := ann.split(); s != "1/0" || ann.alb.CallCount("ModifyRule") != 0 {
		t.Fatalf("the stopped release touched the rule: %s, %d ModifyRule calls", s, ann.alb.CallCount("ModifyRule"))
	}
	v2 := bob.releases()[0]
	if v2.Number != 2 || v2.Status != "failed" || v2.at() != "prepare" || !strings.Contains(v2.Error, "unhealthy") || v2.Traffic["blue"] != 100 || v2.BackupID == "" {
		t.Fatalf("v2 after prepare: %s at %s, traffic %v, backup %q, error %q", v2.Status, v2.at(), v2.Traffic, v2.BackupID, v2.Error)
	}
	if got := tm.applied(t); fmt.Sprint(got) != "[1]" {
		t.Fatalf("goose versions: %v, want [1] (migrate comes before prepare)", got)
	}

	// healthy again; while green is judged at 10 % it fails its checks
	ann.alb.SetHealth(greenTG, healthy)
	tm.prom.hook(func(s seen) {
		if s.slot == "green" && s.weights == "90/10" {
			ann.alb.SetHealth(greenTG, unhealthy)
		}
	})
	r = ann.run("release", "resume")
	t.Logf("resume, green unhealthy after traffic-10:\n%s%s", r.stdout, r.stderr)
	if r.code != 1 || !strings.Contains(r.stderr, "unhealthy") {
		t.Fatalf("resume onto a target group that fails at 10%%: exit %d, want 1", r.code)
	}
	if s := ann.split(); s != "90/10" {
		t.Fatalf("weights after the refused step: %s, want 90/10 (where traffic-10 left them)", s)
	}
	v2 = bob.releases()[0]
	if v2.Status != "failed" || v2.at() != "traffic-100" || v2.Traffic["blue"] != 90 || v2.Traffic["green"] != 10 || !strings.Contains(v2.step("traffic-10"), "done") {
		t.Fatalf("v2 after the refused step: %s at %s, traffic %v, error %q", v2.Status, v2.at(), v2.Traffic, v2.Error)
	}
	tm.prom.hook(nil)
	ann.alb.SetHealth(greenTG, healthy)

	// carol holds the lock in the bucket
	var s s3state.Settings
	s.Region = s3test.Region
	s.State.Bucket, s.State.Prefix, s.State.PathStyle = tm.bucket, "deployctl", true
	b, err := s3state.NewBucket(t.Context(), provider.Env{Name: "production"}, s, s3test.Options(tm.gw.URL))
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := s3state.NewS3Locker(b).Acquire(t.Context(), provider.Holder{Actor: "carol", Host: "laptop", PID: 7, Command: "maintenance on", Reason: "disk", Since: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	r = ann.run("release", "resume")
	t.Logf("resume while carol holds the lock:\n%s", r.stderr)
	if r.code != 3 || !strings.Contains(r.stderr, "carol") || !strings.Contains(r.stderr, "maintenance on") {
		t.Fatalf("resume while carol holds the lock: exit %d, want 3 naming her", r.code)
	}
	if s := ann.split(); s != "90/10" {
		t.Fatalf("a locked-out resume moved the weights to %s", s)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}

	tm.prom.judged("green") // forget the refused resume's
	r = ann.must("release", "resume")
	if !strings.Contains(r.stderr, "v2 succeeded") {
		t.Fatalf("resume:\n%s%s", r.stdout, r.stderr)
	}
	if s := ann.split(); s != "0/100" {
		t.Fatalf("weights after the resumed release: %s", s)
	}
	if got := tm.prom.judged("green"); strings.Join(got, " ") != "0/100" {
		t.Errorf("the load balancer's weights while green was judged after the resume: %v, want only 0/100 (traffic-10 is not run again)", got)
	}
	rs := bob.releases()
	if len(rs) != 2 || rs[0].Status != "succeeded" || rs[0].Traffic["green"] != 100 || rs[0].step("traffic-100") == "" {
		t.Fatalf("releases after the resume: %+v", rs)
	}
	if got := tm.applied(t); fmt.Sprint(got) != "[1]" {
		t.Fatalf("goose versions after the resume: %v", got)
	}
}
