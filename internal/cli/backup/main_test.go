package backup_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/deployctl/deployctl/internal/testbin"
	"github.com/deployctl/deployctl/internal/testkit"
	"github.com/deployctl/deployctl/pkg/postgres/pgtest"
)

var (
	pg  *pgtest.Cluster
	bin string
)

func TestMain(m *testing.M) {
	os.Exit(testbin.Main(func(b *testbin.Built) int {
		bin = b.Path("deployctl")
		return pgtest.Main(m, &pg)
	}, "deployctl"))
}

// project is an operator's checkout with environments/development.yaml;
// the database URL (with its password) comes from the process environment.
type project struct {
	t   *testing.T
	dir string
	url string
	env []string
}

func newProject(t *testing.T, yaml string) *project {
	t.Helper()
	dir := testkit.Project(t, map[string]string{
		"environments/development.yaml": "variables: {sources: [{type: process}]}\ndatabase: {url_from: DATABASE_URL}\n" + yaml})
	p := &project{t: t, dir: dir, url: pg.NewDatabase(t)}
	p.env = append(os.Environ(), "DEPLOYCTL_DATABASE_URL="+p.url, "DEPLOYCTL_ACTOR=alice", "NO_COLOR=1", "TMPDIR="+t.TempDir())
	return p
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type result struct {
	out, err string
	code     int
}

func (p *project) command(args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env = p.dir, p.env
	return cmd
}

func (p *project) run(args ...string) result {
	p.t.Helper()
	cmd := p.command(args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{out: out.String(), err: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		p.t.Fatal(err)
	}
	for _, s := range []string{r.out, r.err} {
		if strings.Contains(s, pgtest.Password) {
			p.t.Fatalf("deployctl %s printed the database password:\n%s", strings.Join(args, " "), s)
		}
	}
	return r
}

func (p *project) mustRun(args ...string) result {
	p.t.Helper()
	r := p.run(args...)
	if r.code != 0 {
		p.t.Fatalf("deployctl %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.out, r.err)
	}
	return r
}

func (p *project) exec(url, sql string) {
	p.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	must(p.t, err)
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		p.t.Fatalf("%s: %v", sql, err)
	}
}

func scalar(t *testing.T, url, q string) int64 {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	must(t, err)
	defer conn.Close(ctx)
	var n int64
	must(t, conn.QueryRow(ctx, q).Scan(&n))
	return n
}

const seedSQL = `
CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL);
CREATE TABLE orders (id bigserial PRIMARY KEY, user_id int REFERENCES users, total numeric(10,2));
INSERT INTO users (email) SELECT 'u' || g || '@example.com' FROM generate_series(1, 300) g;
INSERT INTO orders (user_id, total) SELECT 1 + g % 300, g * 1.5 FROM generate_series(1, 600) g;`

type listJSON struct {
	Backups []struct {
		ID           string `json:"id"`
		CreatedAt    string `json:"created_at"`
		SizeBytes    int64  `json:"size_bytes"`
		SHA256       string `json:"sha256"`
		Verification *struct {
			Level string `json:"level"`
			OK    bool   `json:"ok"`
			At    string `json:"at"`
		} `json:"verification"`
	} `json:"backups"`
}

func (p *project) list() listJSON {
	p.t.Helper()
	var l listJSON
	r := p.mustRun("backup", "list", "-o", "json")
	must(p.t, json.Unmarshal([]byte(r.out), &l))
	return l
}
