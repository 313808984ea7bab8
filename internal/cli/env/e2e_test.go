package env

import (
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deployctl/deployctl/internal/testkit"
	"github.com/deployctl/deployctl/pkg/mail/smtptest"
)

// The canary secrets: none of them may appear in any output or file.
const (
	canaryJWT   = "CANARYjwt-8d1f37c2a9b54e06f3d8c1a7"
	canaryMail  = "CANARYmail-5e2b9c41"
	canaryMail2 = "CANARYmailwrong-77a3"
	canaryDB    = "CANARYdb-4c8e1f9a"
	canaryShort = "CANARYshort"
)

var canaries = []string{canaryJWT, canaryMail, canaryMail2, canaryDB, canaryShort}

// e2e is a project folder with a real database and SMTP server behind it.
type e2e struct {
	dir    string
	env    []string // the operator's environment: SSL_CERT_FILE, HOME
	smtp   *smtptest.Server
	dbURL  string
	inputs map[string]bool
}

func newE2E(t *testing.T) *e2e {
	t.Helper()
	requirePG(t)
	srv := smtptest.Start(t, "mailer@example.com", canaryMail)
	dbName := strings.TrimPrefix(mustParse(t, pg.NewDatabase(t)).Path, "/")
	role := fmt.Sprintf("envapp_%d", os.Getpid()%100000)
	dbURL := pg.CreateRole(t, role+strings.ToLower(strings.ReplaceAll(t.Name(), "/", "_")), canaryDB, dbName)
	e := &e2e{smtp: srv, dbURL: dbURL}
	good := e.dotenv(map[string]string{})
	files := map[string]string{
		"environments/variables.yaml":   schemaText(t),
		"environments/staging.yaml":     "variables: {sources: [{type: dotenv, path: .env.staging}]}\n",
		"environments/production.yaml":  "variables: {sources: [{type: dotenv, path: .env.production}]}\n",
		"environments/development.yaml": "variables: {sources: [{type: dotenv, path: .env, optional: true}, {type: process}]}\n",
		".env.staging":                  good,
		".env.production":               e.dotenv(map[string]string{"NODE_ENV": "production"}), // 127.0.0.1: invalid in production
		"wrongpass.env":                 e.dotenv(map[string]string{"EMAIL_PASSWORD": canaryMail2}),
		"smtpdown.env":                  e.dotenv(map[string]string{"EMAIL_PORT": fmt.Sprint(closedPort(t))}),
		"dbdown.env":                    e.dotenv(map[string]string{"DATABASE_URL": strings.Replace(dbURL, fmt.Sprint(pg.Port), fmt.Sprint(closedPort(t)), 1)}),
		"dbwrong.env":                   e.dotenv(map[string]string{"DATABASE_URL": strings.Replace(dbURL, canaryDB, canaryMail2, 1)}),
		"bad.env": "NODE_ENV=production\nJWT_SECRET=" + canaryShort + "\nDATABASE_URL=mysql://u:" + canaryDB + "@db.example.com/x\n" +
			"EMAIL_PASSWORD=" + canaryMail + "\nJWT_SECRTE=" + canaryJWT + "\nCORS_ORIGIN=*\n",
		"malformed.env": "NODE_ENV=production\nJWT_SECRET=\"" + canaryJWT + "\nEMAIL_PASSWORD=" + canaryMail + "\n",
		"nameless.env":  canaryJWT + "\n",
		"notls.env": e.dotenv(map[string]string{"NODE_ENV": "production", "EMAIL_HOST": "smtp.example.com",
			"DATABASE_URL": "postgres://app:" + canaryDB + "@db.prod.example.com:5432/app"}),
	}
	e.dir = testkit.Project(t, files)
	e.inputs = map[string]bool{}
	for name := range files {
		e.inputs[filepath.Join(e.dir, name)] = true
	}
	home := filepath.Join(e.dir, "home")
	_ = os.Mkdir(home, 0o700)
	e.env = []string{"SSL_CERT_FILE=" + srv.CAFile, "HOME=" + home, "NO_COLOR=1"}
	return e
}

// dotenv renders staging's good variables with overrides.
func (e *e2e) dotenv(over map[string]string) string {
	vals := [][2]string{
		{"NODE_ENV", "staging"}, {"PORT", "3000"}, {"DATABASE_URL", e.dbURL}, {"JWT_SECRET", canaryJWT},
		{"EMAIL_HOST", e.smtp.Host}, {"EMAIL_PORT", fmt.Sprint(e.smtp.Port)}, {"EMAIL_USER", e.smtp.User},
		{"EMAIL_PASSWORD", canaryMail}, {"CORS_ORIGIN", "https://example.com"},
	}
	var b strings.Builder
	for _, kv := range vals {
		v := kv[1]
		if o, ok := over[kv[0]]; ok {
			v = o
		}
		fmt.Fprintf(&b, "%s=%s\n", kv[0], v)
	}
	return b.String()
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (e *e2e) run(t *testing.T, args ...string) result {
	t.Helper()
	return runBin(t, e.dir, e.env, args...)
}

func TestConnect(t *testing.T) {
	e := newE2E(t)
	cases := []struct {
		name  string
		args  []string
		code  int
		wants []string
	}{
		{"good", []string{"-e", "staging"}, 0, []string{"PostgreSQL 15", "login as mailer@example.com accepted", "ok: 11 variables"}},
		{"smtp wrong password", []string{"-e", "staging", "--file", "wrongpass.env"}, 1, []string{"refused the login", "535", "failed"}},
		{"smtp unreachable", []string{"-e", "staging", "--file", "smtpdown.env"}, 4, []string{"unreachable", "connection refused"}},
		{"db wrong password", []string{"-e", "staging", "--file", "dbwrong.env"}, 1, []string{"refused the login", "failed"}},
		{"db unreachable", []string{"-e", "staging", "--file", "dbdown.env"}, 4, []string{"database", "unreachable"}},
		{"invalid wins over unreachable", []string{"-e", "production", "--file", "smtpdown.env"}, 1, []string{"invalid", "skipped"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.run(t, append([]string{"env", "validate", "--connect", "--timeout", "5s"}, c.args...)...)
			if r.code != c.code {
				t.Fatalf("exit %d, want %d\n%s%s", r.code, c.code, r.out, r.errOut)
			}
			for _, w := range c.wants {
				if !strings.Contains(r.out, w) {
					t.Errorf("output lacks %q:\n%s", w, r.out)
				}
			}
		})
	}
	r := runBin(t, e.dir, []string{"HOME=" + e.dir + "/home"}, "env", "validate", "-e", "staging", "--connect", "-o", "json")
	if r.code != 1 || !strings.Contains(r.out, "TLS failed") || !strings.Contains(r.out, "SSL_CERT_FILE") {
		t.Errorf("an untrusted certificate fails clearly: %d\n%s", r.code, r.out)
	}
}

// TestCanarySecretsNeverLeak runs every env subcommand, in table and JSON
// form, valid and invalid, with --connect and verbose logs, through the
// built binary, and looks for the canary secrets in every output and every
// file the runs left behind.
func TestCanarySecretsNeverLeak(t *testing.T) {
	e := newE2E(t)
	runs := [][]string{
		{"env", "validate", "-e", "staging"},
		{"env", "validate", "-e", "production"},
		{"env", "validate", "-e", "production", "--file", "bad.env"},
		{"env", "validate", "-e", "production", "--file", "malformed.env"},
		{"env", "validate", "-e", "production", "--file", "nameless.env"},
		{"env", "validate", "-e", "staging", "--connect"},
		{"env", "validate", "-e", "staging", "--connect", "--file", "wrongpass.env"},
		{"env", "validate", "-e", "staging", "--connect", "--file", "smtpdown.env"},
		{"env", "validate", "-e", "staging", "--connect", "--file", "dbwrong.env"},
		{"env", "validate", "-e", "staging", "--connect", "--file", "dbdown.env"},
		{"env", "validate", "-e", "development"},
		{"env", "show", "-e", "staging"},
		{"env", "show", "-e", "production", "--file", "bad.env"},
		{"env", "show", "-e", "development"},
		{"env", "diff", "staging", "production"},
		{"env", "diff", "development", "staging"},
		{"env", "keys"},
	}
	env := append(e.env, "JWT_SECRET="+canaryJWT, "EMAIL_PASSWORD="+canaryMail2, "DATABASE_URL="+e.dbURL)
	for _, args := range runs {
		for _, extra := range [][]string{{"-o", "table"}, {"-o", "json", "-v"}, {"-v", "--log-format", "json"}} {
			all := append(append([]string{}, args...), extra...)
			r := runBin(t, e.dir, env, all...)
			if r.code == 0 && strings.Contains(strings.Join(args, " "), "bad.env") && args[1] == "validate" {
				t.Errorf("%v: want a failure", all)
			}
			for _, c := range canaries {
				if strings.Contains(r.out, c) || strings.Contains(r.errOut, c) {
					t.Errorf("%v (exit %d) leaks %s:\nstdout:\n%s\nstderr:\n%s", all, r.code, c, r.out, r.errOut)
				}
			}
		}
	}
	e.checkFiles(t)
}

// Production refuses a database URL to another host without TLS, and the
// message says how to fix it without the password (finding 6 of the
// operator-experience issue).
func TestProductionDatabaseURLNeedsTLS(t *testing.T) {
	e := newE2E(t)
	r := e.run(t, "env", "validate", "-e", "production", "--file", "notls.env")
	if r.code != 1 || !strings.Contains(r.out, "DATABASE_URL") || !strings.Contains(r.out, "sslmode=verify-full") {
		t.Fatalf("exit %d, want 1 naming DATABASE_URL and sslmode:\n%s%s", r.code, r.out, r.errOut)
	}
	if strings.Contains(r.out+r.errOut, canaryDB) {
		t.Fatalf("the password leaked:\n%s%s", r.out, r.errOut)
	}
}

// checkFiles scans every file in the project (HOME included) that the test
// did not write itself.
func (e *e2e) checkFiles(t *testing.T) {
	t.Helper()
	err := filepath.WalkDir(e.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || e.inputs[p] {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, c := range canaries {
			if strings.Contains(string(b), c) {
				t.Errorf("%s holds the canary %s", p, c)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// -v shows what the command does: each SQL statement and its duration,
// in text or JSON by --log-format; without -v, nothing (finding 7 of the
// operator-experience issue). No secret is in it (TestCanarySecretsNeverLeak
// runs the same with canaries).
func TestVerboseShowsTheCalls(t *testing.T) {
	e := newE2E(t)
	r := e.run(t, "env", "validate", "-e", "staging", "--connect", "-v")
	if r.code != 0 || !strings.Contains(r.errOut, "level=DEBUG msg=sql") || !strings.Contains(r.errOut, "duration=") {
		t.Fatalf("exit %d; stderr:\n%s", r.code, r.errOut)
	}
	r = e.run(t, "env", "validate", "-e", "staging", "--connect", "-v", "--log-format", "json")
	if !strings.Contains(r.errOut, `"msg":"sql"`) {
		t.Fatalf("--log-format json; stderr:\n%s", r.errOut)
	}
	r = e.run(t, "env", "validate", "-e", "staging", "--connect")
	if strings.Contains(r.errOut, "msg=sql") || strings.Contains(r.errOut, `"msg":"sql"`) {
		t.Fatalf("debug lines without -v:\n%s", r.errOut)
	}
	for _, c := range canaries {
		if strings.Contains(r.errOut+r.out, c) {
			t.Fatalf("a secret in the output")
		}
	}
}
