package checklist_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/deployctl/deployctl/internal/testkit"
)

// project is an operator's checkout with environments/production.yaml, a
// migrations folder, a runbook, and two slots answering HTTP.
type project struct {
	t       *testing.T
	dir     string
	dbURL   string
	blue    *httptest.Server
	green   *httptest.Server
	greenOK bool
	blueOK  bool
	env     []string
}

func newProject(t *testing.T, checklistYAML string) *project {
	t.Helper()
	p := &project{t: t, dir: t.TempDir(), dbURL: pg.NewDatabase(t), greenOK: true, blueOK: true}
	p.blue = slotServer(t, "1.4.0", func() bool { return p.blueOK })
	p.green = slotServer(t, "1.3.9", func() bool { return p.greenOK })
	p.write("migrations/00001_users.sql", "-- +goose Up\nCREATE TABLE users (id bigint PRIMARY KEY);\n-- +goose Down\nDROP TABLE users;\n")
	p.write("migrations/00002_orders.sql", "-- +goose Up\nCREATE TABLE orders (id bigint PRIMARY KEY);\n-- +goose Down\nDROP TABLE orders;\n")
	p.write("docs/runbook.md", "# Rollback\n\n1. deployctl rollout abort\n2. deployctl migrate down\n")
	p.write("environments/production.yaml", `database: {url: "`+p.dbURL+`"}
traffic:
  provider: local
  local: {listen: 127.0.0.1:0, slots: {blue: {url: `+p.blue.URL+`}, green: {url: `+p.green.URL+`}}}
`+checklistYAML)
	p.env = []string{"DATABASE_URL=" + p.dbURL, "DEPLOYCTL_ACTOR=alice", "PATH=" + os.Getenv("PATH"), "HOME=" + p.dir}
	return p
}

func slotServer(t *testing.T, version string, ready func() bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "ok", "version": version})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func (p *project) write(rel, content string) {
	p.t.Helper()
	testkit.WriteFiles(p.t, p.dir, map[string]string{rel: content})
}

// normalize replaces what changes from run to run in output.
func (p *project) normalize(s string, more ...string) string {
	pairs := []string{p.dbURL, "{{DATABASE_URL}}", p.dir, "{{DIR}}", p.blue.URL, "{{BLUE}}", p.green.URL, "{{GREEN}}"}
	pairs = append(pairs, more...)
	return strings.NewReplacer(pairs...).Replace(s)
}
