package checklist_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deployctl/deployctl/pkg/alerts"
	"github.com/deployctl/deployctl/pkg/analysis/prometheus/promtest"
)

// renderedAlerts are the rules `deployctl render alerts` writes for an
// environment without a monitoring section: the reference thresholds.
func renderedAlerts(t *testing.T) string {
	t.Helper()
	f, err := alerts.Generate(alerts.Settings{Env: "production"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.YAML("")
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// deployctl runs the built binary in the project like an operator would.
func (p *project) deployctl(args ...string) (stdout, stderr string, code int) {
	p.t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = p.dir
	cmd.Env = p.env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		p.t.Fatalf("run deployctl: %v", err)
	}
	return out.String(), errOut.String(), code
}

func (p *project) must(args ...string) string {
	p.t.Helper()
	out, errOut, code := p.deployctl(args...)
	if code != 0 {
		p.t.Fatalf("deployctl %v: exit %d\n%s%s", args, code, out, errOut)
	}
	return out
}

func requireWrk(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("wrk"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("wrk not found: install the Debian package wrk (scripts/deps)")
		}
		t.Skip("SKIPPED, NOT TESTED: wrk not found (apt-get install wrk)")
	}
}

// operatorEnv is the process environment without deployctl's own settings.
func operatorEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DEPLOYCTL_") && !strings.HasPrefix(kv, "DATABASE_URL=") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// A production-like run on one machine where everything is in order: real
// go test and go vet, a real wrk load test against the standby slot, the
// migrations applied, a real backup verified by restoring it, and a real
// Prometheus with the alert rules. Then the standby slot goes down.
func TestChecklistEndToEnd(t *testing.T) {
	requireWrk(t)
	prom := promtest.Start(t, promtest.Options{Rules: map[string]string{"api.yml": renderedAlerts(t)}})
	p := newProject(t, `analysis: {prometheus_url: `+prom.URL+`}
checklist:
  timeout: 2m
  tests: {run: "go test ./..."}
  security: {run: "go vet ./..."}
  performance: {run: "SUMMARY=perf.json wrk -t1 -c2 -d1s -s wrk-summary.lua `+"$"+`GREEN_URL/", summary: perf.json}
  rollback: {runbook: docs/runbook.md}
  backups: {max_age: 26h}
`)
	p.env = operatorEnv("DEPLOYCTL_ACTOR=alice", "GREEN_URL="+p.green.URL, "GOFLAGS=-mod=mod")
	p.write("go.mod", "module example.com/api\n\ngo 1.22\n")
	p.write("api.go", "package api\n\nfunc Health() string { return \"ok\" }\n")
	p.write("api_test.go", "package api\n\nimport \"testing\"\n\nfunc TestHealth(t *testing.T) {\n\tif Health() != \"ok\" {\n\t\tt.Fatal(Health())\n\t}\n}\n")
	lua, err := os.ReadFile("testdata/wrk-summary.lua")
	if err != nil {
		t.Fatal(err)
	}
	p.write("wrk-summary.lua", string(lua))

	p.must("migrate", "up", "-e", "production")
	p.must("backup", "create", "-e", "production")
	p.must("backup", "verify", "latest", "-e", "production")

	out, errOut, code := p.deployctl("checklist", "-e", "production", "--reason", "release 1.4")
	if code != 0 {
		t.Fatalf("exit %d, want 0\n%s%s", code, out, errOut)
	}
	if !strings.Contains(out, "checklist for production ready: 7 passed, 0 warned, 0 failed, 0 skipped") {
		t.Errorf("table:\n%s", out)
	}

	p.greenOK = false
	out, _, code = p.deployctl("checklist", "-e", "production", "--only", "rollback,migrations", "-o", "json")
	var rep struct {
		OK     bool `json:"ok"`
		Checks []struct {
			ID, Status, Summary, Fix string
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if code != 1 || rep.OK || len(rep.Checks) != 2 || rep.Checks[0].ID != "migrations" || rep.Checks[0].Status != "pass" ||
		rep.Checks[1].Status != "fail" || rep.Checks[1].Summary != "the standby slot green is not healthy" {
		t.Fatalf("exit %d, report %+v", code, rep)
	}

	hist := p.must("history", "-e", "production", "--command", "checklist", "-o", "json")
	var h struct {
		Entries []struct {
			Command, Actor, Reason, Result string
			After                          map[string]string
		} `json:"entries"`
	}
	if err := json.Unmarshal([]byte(hist), &h); err != nil {
		t.Fatal(err)
	}
	if len(h.Entries) != 2 || h.Entries[0].Result != "ok" || h.Entries[0].Reason != "release 1.4" || h.Entries[0].Actor != "alice" ||
		h.Entries[0].After["backups"] != "pass" || h.Entries[1].Result != "failed" || h.Entries[1].After["rollback"] != "fail" {
		t.Errorf("history %s", hist)
	}
	// a dry run is not recorded as a run (it was, without the flag)
	p.deployctl("checklist", "-e", "production", "--only", "migrations", "--dry-run")
	if again := p.must("history", "-e", "production", "--command", "checklist", "-o", "json"); again != hist {
		t.Errorf("a dry run was recorded:\n%s", again)
	}
}

func TestChecklistExitCodes(t *testing.T) {
	p := newProject(t, "checklist:\n  waivers:\n    - {id: tests, reason: flaky, expires: 2026-12-31}\n    - {id: tests, reason: again, expires: 2026-12-31}\n")
	p.env = operatorEnv()
	if _, errOut, code := p.deployctl("checklist", "-e", "production", "--only", "tests,lint"); code != 2 || !strings.Contains(errOut, `unknown check "lint"`) {
		t.Errorf("bad --only: exit %d, %s", code, errOut)
	}
	if _, errOut, code := p.deployctl("checklist", "-e", "production"); code != 2 || !strings.Contains(errOut, `a second waiver for "tests"`) {
		t.Errorf("duplicate waiver: exit %d, %s", code, errOut)
	}
	if _, errOut, code := p.deployctl("checklist", "-e", "nosuch"); code != 2 {
		t.Errorf("unknown env: exit %d, %s", code, errOut)
	}
}

// A pending migration fails the migrations check until `migrate rehearse`
// records a rehearsal for the set; editing the file changes the set hash
// and needs a new rehearsal. A migration without a way back fails rollback.
func TestChecklistMigrationsRehearsal(t *testing.T) {
	p := newProject(t, "checklist: {rollback: {runbook: docs/runbook.md}}\n")
	p.env = operatorEnv("DEPLOYCTL_ACTOR=alice")
	p.must("migrate", "up", "-e", "production")
	addEmail := "-- +goose Up\nALTER TABLE users ADD COLUMN email text;\n-- +goose Down\nALTER TABLE users DROP COLUMN email;\n"
	p.write("migrations/00003_email.sql", addEmail)
	check := func() (int, map[string]string, string) {
		out, errOut, code := p.deployctl("checklist", "-e", "production", "--only", "migrations,rollback", "-o", "json")
		var rep struct {
			Checks []struct{ ID, Status, Summary string } `json:"checks"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%v\n%s%s", err, out, errOut)
		}
		got := map[string]string{}
		for _, c := range rep.Checks {
			got[c.ID] = c.Status + ": " + c.Summary
		}
		return code, got, out
	}
	if code, got, out := check(); code != 1 || got["migrations"] != "fail: migration 3 not rehearsed for this set" {
		t.Fatalf("before rehearse: exit %d %v\n%s", code, got, out)
	}
	p.must("migrate", "rehearse", "-e", "production")
	if code, got, out := check(); code != 0 || got["migrations"] != "pass: migration 3 rehearsed for this set, lint clean" {
		t.Fatalf("after rehearse: exit %d %v\n%s", code, got, out)
	}
	p.write("migrations/00003_email.sql", addEmail+"-- edited after the rehearsal\n")
	if code, got, _ := check(); code != 1 || got["migrations"] != "fail: migration 3 not rehearsed for this set" {
		t.Errorf("after an edit: exit %d %v", code, got)
	}
	p.write("migrations/00004_drop.sql", "-- +goose Up\nALTER TABLE users DROP COLUMN email;\n")
	if _, got, _ := check(); !strings.HasPrefix(got["rollback"], "fail: no down section: 00004_drop.sql") {
		t.Errorf("one-way migration: %v", got)
	}
}

// Canary: the database password and a password in the Prometheus URL appear
// in no output and no file the checklist writes, whether the checks pass or
// fail on them.
func TestChecklistLeaksNoSecret(t *testing.T) {
	const canary = "Canary-7f3e9b1c-secret"
	p := newProject(t, "")
	db := strings.TrimPrefix(p.dbURL[strings.LastIndex(p.dbURL, "/"):], "/")
	if i := strings.Index(db, "?"); i >= 0 {
		db = db[:i]
	}
	dbURL := pg.CreateRole(t, "canary_role", canary, db)
	wrongURL := strings.Replace(dbURL, "@", "x@", 1) // a password that fails
	p.env = operatorEnv("DATABASE_URL=" + wrongURL)
	for _, dbu := range []string{dbURL, ""} {
		cfg := "variables: {sources: [{type: process}]}\ndatabase: {url_from: DATABASE_URL}\n"
		if dbu != "" {
			cfg = "database: {url: \"" + dbu + "\"}\n"
		}
		p.write("environments/production.yaml", cfg+`traffic: {provider: local, local: {slots: {blue: {url: "`+p.blue.URL+`"}, green: {url: "`+p.green.URL+`"}}}}
analysis: {prometheus_url: "http://ops:`+canary+`@127.0.0.1:1"}
checklist: {tests: {run: "true"}}
`)
		for _, o := range []string{"table", "json", "junit"} {
			out, errOut, code := p.deployctl("checklist", "-e", "production", "-o", o)
			if code != 1 {
				t.Errorf("exit %d, want 1 (monitoring unreachable)\n%s%s", code, out, errOut)
			}
			if strings.Contains(out+errOut, canary) {
				t.Fatalf("-o %s printed the canary:\n%s%s", o, out, errOut)
			}
		}
	}
	err := filepathWalk(p.dir, func(path string, data []byte) {
		if strings.Contains(path, "environments") {
			return // the operator's own file holds it
		}
		if bytes.Contains(data, []byte(canary)) {
			t.Errorf("%s holds the canary", path)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

func filepathWalk(root string, fn func(path string, data []byte)) error {
	return filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err == nil {
			fn(path, data)
		}
		return nil
	})
}
