package db_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deployctl/deployctl/internal/testbin"
	"github.com/deployctl/deployctl/internal/testkit"
	"github.com/deployctl/deployctl/pkg/postgres/failover/replicatest"
	"github.com/deployctl/deployctl/pkg/postgres/pgtest"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/local/statefs"
)

var (
	pg        *pgtest.Cluster
	deployctl string
)

const canary = "canary-db-9c41e7-password"

func TestMain(m *testing.M) {
	os.Exit(testbin.Main(func(b *testbin.Built) int {
		deployctl = b.Path("deployctl")
		return pgtest.Main(m, &pg)
	}, "deployctl"))
}

type project struct {
	t        *testing.T
	dir      string
	primary  string // URL with the canary password
	replica  *replicatest.Replica
	replicaU string
}

// newProject is a development environment whose DATABASE_URL (.env) is the
// pgtest primary, logging in with a canary password, and whose
// database.replicas names REPLICA_URL, a fresh streaming replica.
func newProject(t *testing.T) *project {
	t.Helper()
	p := &project{t: t, dir: t.TempDir(), primary: pg.CreateRole(t, "app", canary, "postgres")}
	p.replica = replicatest.Start(t, pg)
	p.replicaU = strings.Replace(p.replica.URL("postgres"), "postgres:"+pgtest.Password+"@", "app:"+canary+"@", 1)
	p.write("environments/development.yaml", "variables: {sources: [{type: dotenv, path: .env}]}\nstate: {dir: .deployctl}\ndatabase: {replicas: [REPLICA_URL]}\n")
	p.write(".env", fmt.Sprintf("DATABASE_URL=%s\nREPLICA_URL=%s\n", p.primary, p.replicaU))
	p.waitStreaming()
	return p
}

func (p *project) write(rel, content string) {
	p.t.Helper()
	testkit.WriteFiles(p.t, p.dir, map[string]string{rel: content})
}

func (p *project) waitStreaming() {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.run("db", "status").stdout, "streaming") {
		if time.Now().After(deadline) {
			p.t.Fatal("the replica never streamed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type result struct {
	code           int
	stdout, stderr string
}

func (p *project) run(args ...string) result {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, deployctl, args...)
	cmd.Dir, cmd.Env = p.dir, testbin.OperatorEnv(p.dir)
	rr := testbin.Run(p.t, cmd)
	r := result{code: rr.Code, stdout: rr.Stdout, stderr: rr.Stderr}
	if strings.Contains(r.stdout+r.stderr, canary) {
		p.t.Fatalf("deployctl %v printed the password canary:\n%s%s", args, r.stdout, r.stderr)
	}
	return r
}

func (p *project) inRecovery() bool {
	p.t.Helper()
	conn, err := pgx.Connect(p.t.Context(), p.replica.URL("postgres"))
	if err != nil {
		p.t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var rec bool
	if err := conn.QueryRow(p.t.Context(), "SELECT pg_is_in_recovery()").Scan(&rec); err != nil {
		p.t.Fatal(err)
	}
	return rec
}

// noCanaryInFiles checks every file deployctl wrote (state, history).
func (p *project) noCanaryInFiles() {
	p.t.Helper()
	_ = filepath.Walk(filepath.Join(p.dir, ".deployctl"), func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			if b, _ := os.ReadFile(path); strings.Contains(string(b), canary) {
				p.t.Errorf("%s holds the password canary", path)
			}
		}
		return nil
	})
}

const downURL = "postgres://app:" + canary + "@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2"

func TestStatusShowsPrimaryAndReplica(t *testing.T) {
	p := newProject(t)
	r := p.run("db", "status")
	t.Logf("db status:\n%s", r.stdout)
	if r.code != 0 || !strings.Contains(r.stdout, "primary") || !strings.Contains(r.stdout, "replica") || !strings.Contains(r.stdout, "app:xxxxx@") {
		t.Fatalf("db status: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var st struct {
		Primary  struct{ Role string }
		Standbys []struct{ State string }
		Replicas []struct {
			Role     string
			Receiver string
			LagBytes *int64 `json:"lag_bytes"`
		}
	}
	r = p.run("db", "status", "-o", "json")
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || st.Primary.Role != "primary" || len(st.Replicas) != 1 || st.Replicas[0].Receiver != "streaming" || st.Replicas[0].LagBytes == nil || len(st.Standbys) == 0 {
		t.Fatalf("db status -o json: %v\n%s", err, r.stdout)
	}
	if r := p.run("db", "status", "--replica-url", downURL); r.code != 1 || !strings.Contains(r.stdout, "unreachable") {
		t.Errorf("db status with a replica down: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := p.run("db", "status", "--database-url", downURL); r.code != 4 {
		t.Errorf("db status with the primary down: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestPromoteRefusesWhilePrimaryAnswers(t *testing.T) {
	p := newProject(t)
	r := p.run("db", "promote", p.replicaU, "--yes")
	if r.code != 1 || !strings.Contains(r.stderr, "still answers") {
		t.Fatalf("promote with the primary up: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := p.run("db", "promote", p.replicaU, "--database-url", downURL); r.code != 2 {
		t.Errorf("promote without --yes and without a terminal: exit %d\n%s", r.code, r.stderr)
	}
	if r := p.run("db", "promote", p.replicaU, "--database-url", downURL, "--dry-run"); r.code != 0 || !strings.Contains(r.stderr, "dry run") {
		t.Errorf("promote --dry-run: exit %d\n%s", r.code, r.stderr)
	}
	if !p.inRecovery() {
		t.Fatal("a refused promotion promoted the replica")
	}
}

func TestPromoteWhenThePrimaryIsLost(t *testing.T) {
	p := newProject(t)
	l, _ := statefs.NewLocker(t.Context(), provider.Env{Name: "development", StateDir: filepath.Join(p.dir, ".deployctl")}, nil)
	release, err := l.Acquire(t.Context(), provider.Holder{Actor: "bob", Host: "h", PID: 1, Command: "rollout", Since: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if r := p.run("db", "promote", p.replicaU, "--database-url", downURL, "--yes"); r.code != 3 || !p.inRecovery() {
		t.Fatalf("promote while locked: exit %d\n%s", r.code, r.stderr)
	}
	_ = release()

	r := p.run("db", "promote", p.replicaU, "--database-url", downURL, "--yes", "--reason", "primary lost")
	t.Logf("db promote:\n%s%s", r.stderr, r.stdout)
	if r.code != 0 || !strings.Contains(r.stdout, "is now the primary") || !strings.Contains(r.stdout, "point DATABASE_URL at the new primary") || !strings.Contains(r.stderr, "unreachable") {
		t.Fatalf("promote: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if p.inRecovery() {
		t.Fatal("the replica is still in recovery")
	}
	if h := p.run("history"); !strings.Contains(h.stdout, "db promote") {
		t.Errorf("history lacks the promotion:\n%s", h.stdout)
	}
	if r := p.run("db", "promote", p.replicaU, "--database-url", downURL, "--yes"); r.code != 1 || !strings.Contains(r.stderr, "not a replica") {
		t.Errorf("promote a primary: exit %d\n%s", r.code, r.stderr)
	}
	p.noCanaryInFiles()
}
