package migrate_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/deployctl/deployctl/internal/testkit"
)

var (
	reURL  = regexp.MustCompile(`postgres://postgres:xxxxx@127\.0\.0\.1:\d+/\w+\?sslmode=disable`)
	reTime = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`)
	reMS   = regexp.MustCompile(`\b\d+ms\b`)
)

func golden(t *testing.T, name, got string) {
	t.Helper()
	got = reTime.ReplaceAllString(reURL.ReplaceAllString(got, "postgres://postgres:xxxxx@HOST/DB"), "TIME")
	testkit.Golden(t, name+".golden", reMS.ReplaceAllString(got, "Nms"))
}

// The outputs scripts rely on: plan, status and validate as tables and JSON.
func TestOutputsGolden(t *testing.T) {
	p := newProject(t)
	p.write("00001_users.sql", m1)
	p.mustRun("migrate", "up")
	p.write("00002_orders.sql", m2)
	p.write("00003_users_email_idx.sql", "-- +goose Up\nCREATE INDEX users_email ON users (email);\nALTER TABLE users ADD COLUMN tenant bigint NOT NULL;\n")
	p.write("00004_drop_email.sql", "-- +goose Up\n-- deployctl:irreversible the e-mail column goes for good\nALTER TABLE users DROP COLUMN email;\n")
	for _, c := range []struct{ name, args string }{
		{"plan.txt", "migrate plan"}, {"plan.json", "migrate plan -o json"},
		{"status.txt", "migrate status"}, {"status.json", "migrate status -o json"},
		{"validate.txt", "migrate validate --offline"}, {"validate.json", "migrate validate --offline -o json"},
		{"up.txt", "migrate up"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := p.run(strings.Fields(c.args)...)
			golden(t, c.name, r.out+"--- stderr (exit "+strconv.Itoa(r.code)+")\n"+r.err)
		})
	}
}
