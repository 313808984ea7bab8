package migrate_test

import (
	"bytes"
	"context"
	"errors"
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
	"github.com/deployctl/deployctl/pkg/postgres/pgtest"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/local/statefs"
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

// project is an operator's checkout: environments/development.yaml and a
// migrations folder, with DATABASE_URL in the process environment.
type project struct {
	t   *testing.T
	dir string
	url string
	env []string
}

func newProject(t *testing.T) *project {
	t.Helper()
	dir := testkit.Project(t, map[string]string{
		"environments/development.yaml": "variables: {sources: [{type: process}]}\ndatabase: {url_from: DATABASE_URL}\n"})
	must(t, os.MkdirAll(filepath.Join(dir, "migrations"), 0o755))
	p := &project{t: t, dir: dir, url: pg.NewDatabase(t)}
	p.env = append(os.Environ(), "DATABASE_URL="+p.url, "DEPLOYCTL_ACTOR=alice", "NO_COLOR=1")
	return p
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// write puts a migration file into the project's folder.
func (p *project) write(name, body string) {
	p.t.Helper()
	must(p.t, os.WriteFile(filepath.Join(p.dir, "migrations", name), []byte(body), 0o644))
}

type result struct {
	out, err string
	code     int
}

func (p *project) cmd(ctx context.Context, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	c := exec.CommandContext(ctx, bin, args...)
	c.Dir, c.Env = p.dir, p.env
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	return c, &out, &errb
}

// run runs deployctl in the project like an operator would.
func (p *project) run(args ...string) result {
	p.t.Helper()
	c, out, errb := p.cmd(p.t.Context(), args...)
	err := c.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		p.t.Fatal(err)
	}
	return result{out: out.String(), err: errb.String(), code: code}
}

func (p *project) mustRun(args ...string) result {
	p.t.Helper()
	r := p.run(args...)
	if r.code != 0 {
		p.t.Fatalf("deployctl %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.out, r.err)
	}
	return r
}

func (p *project) query(sql string, args ...any) []any {
	p.t.Helper()
	conn, err := pgx.Connect(p.t.Context(), p.url)
	must(p.t, err)
	defer conn.Close(context.Background())
	rows, err := conn.Query(p.t.Context(), sql, args...)
	must(p.t, err)
	defer rows.Close()
	var out []any
	for rows.Next() {
		vs, err := rows.Values()
		must(p.t, err)
		out = append(out, vs...)
	}
	must(p.t, rows.Err())
	return out
}

func (p *project) scalar(sql string, args ...any) any {
	p.t.Helper()
	vs := p.query(sql, args...)
	if len(vs) == 0 {
		return nil
	}
	return vs[0]
}

func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, what, limit, cond)
}

func wantContains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s does not contain %q:\n%s", what, w, got)
		}
	}
}

const (
	m1 = "-- +goose Up\nCREATE TABLE users (id bigint PRIMARY KEY, email text);\n\n-- +goose Down\nDROP TABLE users;\n"
	m2 = "-- +goose Up\nCREATE TABLE orders (id bigint PRIMARY KEY);\n\n-- +goose Down\nDROP TABLE orders;\n"
	m3 = "-- +goose Up\nALTER TABLE users ADD COLUMN name text;\n\n-- +goose Down\nALTER TABLE users DROP COLUMN name;\n"
)

// history renders the environment's history as "command result before→after" lines.
func (p *project) history() string {
	p.t.Helper()
	h := &statefs.History{Dir: statefs.Root(filepath.Join(p.dir, ".deployctl"), "development")}
	es, err := h.List(p.t.Context(), provider.Filter{})
	must(p.t, err)
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "%s %s", e.Command, e.Result)
		if e.Before != nil {
			fmt.Fprintf(&b, " %v→%v", e.Before, e.After)
		}
		fmt.Fprintf(&b, " (%s)\n", e.Actor)
	}
	return b.String()
}
