package db_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deployctl/deployctl/internal/testbin"
	"github.com/deployctl/deployctl/pkg/dbindex/dbindextest"
	"github.com/deployctl/deployctl/pkg/postgres/pgtest"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/local/statefs"
)

// newIndexProject is a development environment (and a protected
// production one) whose DATABASE_URL is a dbindextest fixture, logging in
// with the canary password; it returns the superuser URL of the fixture.
func newIndexProject(t *testing.T) (*project, string) {
	t.Helper()
	p := &project{t: t, dir: t.TempDir()}
	pg.CreateRole(t, "app", canary, "postgres")
	url := dbindextest.Fixture(t, pg)
	env := "variables: {sources: [{type: dotenv, path: .env}]}\nstate: {dir: .deployctl}\n"
	p.write("environments/development.yaml", env)
	p.write("environments/production.yaml", "protected: true\n"+env)
	p.write(".env", "DATABASE_URL="+strings.Replace(url, "postgres:"+pgtest.Password+"@", "app:"+canary+"@", 1)+"\n")
	return p, url
}

func TestIndexesListsEveryKind(t *testing.T) {
	p, _ := newIndexProject(t)
	r := p.run("db", "indexes")
	t.Logf("db indexes:\n%s%s", r.stderr, r.stdout)
	for _, want := range []string{"bloated      public.bloaty_v_idx", "estimate", "MiB", "unused       public.accounts_email_idx", "duplicate    public.accounts_email_idx",
		"same as public.accounts_email_key", "overlapping  public.accounts_tenant_idx", "a prefix of public.accounts_tenant_created_idx",
		"invalid      public.accounts_tenant_uniq", "failed CREATE INDEX CONCURRENTLY"} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("db indexes: exit %d, no %q", r.code, want)
		}
	}
	if strings.Contains(r.stdout, "accounts_pkey") || strings.Contains(r.stdout, "unused       public.accounts_email_key") {
		t.Error("an index backing a constraint is listed")
	}
	var rep struct {
		StatsReset *time.Time `json:"stats_reset"`
		Bloated    []struct {
			Index       string
			SizeBytes   int64   `json:"size_bytes"`
			BloatBytes  int64   `json:"bloat_bytes"`
			BloatPct    float64 `json:"bloat_percent"`
			BloatMethod string  `json:"bloat_method"`
		}
		Unused  []struct{ Index string }
		Invalid []struct {
			Index    string
			Leftover bool `json:"reindex_leftover"`
		}
	}
	r = p.run("db", "indexes", "-o", "json")
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || len(rep.Bloated) != 1 || rep.Bloated[0].SizeBytes < 1<<20 ||
		rep.Bloated[0].BloatMethod != "estimate" || rep.Bloated[0].BloatPct < 60 || len(rep.Unused) != 3 || len(rep.Invalid) != 1 {
		t.Fatalf("db indexes -o json: %v\n%s", err, r.stdout)
	}
	if !strings.Contains(r.stdout, `"stats_reset": null`) && rep.StatsReset == nil {
		t.Errorf("no stats_reset in the JSON:\n%s", r.stdout)
	}
}

func TestIndexesAndReindexRefuseBadInputAndAnUnreachableDatabase(t *testing.T) {
	p := &project{t: t, dir: t.TempDir()}
	p.write("environments/development.yaml", "state: {dir: .deployctl}\n")
	for _, args := range [][]string{{"db", "reindex", "--min-bloat", "150%"}, {"db", "reindex", "--min-bloat", "-1"}, {"db", "indexes", "--min-bloat", "lots"},
		{"db", "reindex", "--lock-timeout", "0s"}} {
		if r := p.run(append(args, "--database-url", downURL)...); r.code != 2 || r.stdout != "" {
			t.Errorf("%v: exit %d (want 2 before any I/O)\n%s", args, r.code, r.stderr)
		}
	}
	for _, args := range [][]string{{"db", "indexes"}, {"db", "reindex"}, {"db", "reindex", "--apply", "--yes"}} {
		if r := p.run(append(args, "--database-url", downURL)...); r.code != 4 {
			t.Errorf("%v with the database down: exit %d\n%s", args, r.code, r.stderr)
		}
	}
}

func TestReindexPlansThenAppliesUnderTheLock(t *testing.T) {
	p, url := newIndexProject(t)
	r := p.run("db", "reindex")
	t.Logf("db reindex:\n%s%s", r.stdout, r.stderr)
	if r.code != 0 || !strings.Contains(r.stdout, "public.bloaty_v_idx") || !strings.Contains(r.stdout, "planned") || !strings.Contains(r.stderr, "dry run") {
		t.Fatalf("db reindex (the plan): exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := p.run("-e", "production", "db", "reindex", "--apply", "--yes"); r.code != 2 || !strings.Contains(r.stderr, "--confirm production") {
		t.Errorf("--apply in a protected environment with --yes alone: exit %d\n%s", r.code, r.stderr)
	}
	if r := p.run("db", "reindex", "--apply", "--dry-run"); r.code != 0 || !strings.Contains(r.stderr, "dry run") {
		t.Errorf("--apply --dry-run: exit %d\n%s", r.code, r.stderr)
	}
	if b := dbindextest.Bloated(t, url); b != "bloaty_v_idx" {
		t.Fatalf("a dry run changed the indexes: bloated %q", b)
	}
	l, _ := statefs.NewLocker(t.Context(), provider.Env{Name: "development", StateDir: filepath.Join(p.dir, ".deployctl")}, nil)
	release, err := l.Acquire(t.Context(), provider.Holder{Actor: "bob", Host: "h", PID: 1, Command: "rollout", Since: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if r := p.run("db", "reindex", "--apply"); r.code != 3 || r.stdout != "" {
		t.Errorf("--apply while locked: exit %d\n%s", r.code, r.stderr)
	}
	_ = release()

	r = p.run("db", "reindex", "--apply", "-o", "json", "--reason", "weekly")
	var rep struct {
		Indexes []struct {
			Index     string
			Status    string
			SizeAfter int64 `json:"size_after_bytes"`
		}
		Analyzed []string
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); r.code != 0 || err != nil || len(rep.Indexes) != 1 || rep.Indexes[0].Status != "reindexed" || strings.Join(rep.Analyzed, ",") != "public.bloaty" {
		t.Fatalf("db reindex --apply: exit %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if b := dbindextest.Bloated(t, url); b != "" {
		t.Errorf("still bloated after --apply: %q", b)
	}
	if got := dbindextest.Invalid(t, url); got != "accounts_tenant_uniq" {
		t.Errorf("invalid indexes: %q", got)
	}
	if h := p.run("history"); !strings.Contains(h.stdout, "db reindex") || !strings.Contains(h.stdout, "weekly") {
		t.Errorf("history lacks the reindex:\n%s", h.stdout)
	}
	if r := p.run("db", "reindex"); r.code != 0 || !strings.Contains(r.stdout, "nothing to rebuild") {
		t.Errorf("db reindex after the rebuild: exit %d\n%s", r.code, r.stdout)
	}
	p.noCanaryInFiles()
}

func TestReindexCtrlCDropsTheLeftoverAndExits130(t *testing.T) {
	p, url := newIndexProject(t)
	_, release := dbindextest.Blocker(t, url, "bloaty")
	defer release()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(t.Context(), deployctl, "db", "reindex", "--apply", "--lock-timeout", "1m")
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = p.dir, testbin.OperatorEnv(p.dir), &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	conn := dbindextest.Connect(t, url)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(dbindextest.Invalid(t, url), "bloaty_v_idx_ccnew") || !waitingForWriters(t, conn) {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("the rebuild never started waiting:\n%s", errb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Signal(os.Interrupt)
	release() // the drop of the leftover waits for the writer too
	err := cmd.Wait()
	var ee *exec.ExitError
	t.Logf("db reindex interrupted:\n%s", errb.String())
	if !errors.As(err, &ee) || ee.ExitCode() != 130 || strings.Contains(out.String()+errb.String(), canary) {
		t.Fatalf("exit %v\n%s%s", err, out.String(), errb.String())
	}
	if got := dbindextest.Invalid(t, url); got != "accounts_tenant_uniq" {
		t.Errorf("invalid indexes after Ctrl-C: %q", got)
	}
	if h := p.run("history"); !strings.Contains(h.stdout, "db reindex") || !strings.Contains(h.stdout, "interrupted") {
		t.Errorf("history:\n%s", h.stdout)
	}
}

func waitingForWriters(t *testing.T, conn *pgx.Conn) bool {
	t.Helper()
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_stat_progress_create_index WHERE phase LIKE 'waiting for writers%'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}
