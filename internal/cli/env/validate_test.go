package env

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/testkit"
	"github.com/deployctl/deployctl/internal/testkit/cmdtest"
)

func TestValidateParse(t *testing.T) {
	cases := []struct {
		args    []string
		files   []string
		connect bool
		timeout time.Duration
		code    int
	}{
		{args: []string{}, timeout: 10 * time.Second},
		{args: []string{"--file", "a.env", "--file", "b.env", "--connect", "--timeout", "3s"}, files: []string{"a.env", "b.env"}, connect: true, timeout: 3 * time.Second},
		{args: []string{"--timeout", "0s"}, code: app.ExitUsage},
		{args: []string{"--file", ""}, code: app.ExitUsage},
		{args: []string{"extra"}, code: app.ExitUsage},
	}
	for _, c := range cases {
		f := cmdtest.Factory()
		var got *ValidateOptions
		cmd := NewCmdValidate(f, func(o *ValidateOptions) error { got = o; return nil })
		err := cmdtest.Execute(cmd, c.args...)
		if code := app.ExitCode(err); code != c.code {
			t.Errorf("%v: exit %d (%v), want %d", c.args, code, err, c.code)
			continue
		}
		if c.code != 0 {
			continue
		}
		if strings.Join(got.Files, ",") != strings.Join(c.files, ",") || got.Connect != c.connect || got.Timeout != c.timeout {
			t.Errorf("%v: parsed %+v", c.args, got)
		}
	}
}

func TestValidateGolden(t *testing.T) {
	for _, c := range []struct {
		name, file, output string
		code               int
	}{
		{"validate_good", "testdata/good.env", "table", 0},
		{"validate_good.json", "testdata/good.env", "json", 0},
		{"validate_bad", "testdata/bad.env", "table", app.ExitFailed},
		{"validate_bad.json", "testdata/bad.env", "json", app.ExitFailed},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runIn(t, "testdata/environments", "production", c.output, "validate", "--file", c.file)
			if r.code != c.code {
				t.Fatalf("exit %d (%v), want %d\n%s%s", r.code, r.err, c.code, r.out, r.errOut)
			}
			if r.errOut != "" {
				t.Errorf("stderr: %s", r.errOut)
			}
			testkit.Golden(t, c.name+".golden", r.out)
			if c.output == "json" {
				var doc struct {
					Env       string `json:"env"`
					OK        *bool  `json:"ok"`
					Variables []map[string]any
				}
				if err := json.Unmarshal([]byte(r.out), &doc); err != nil || doc.OK == nil || doc.Env != "production" {
					t.Fatalf("json: %v %+v", err, doc)
				}
				for _, v := range doc.Variables {
					for _, k := range []string{"name", "status", "message", "source", "secret"} {
						if _, ok := v[k]; !ok {
							t.Errorf("field %s missing in %v", k, v)
						}
					}
				}
			}
		})
	}
}

func TestValidateLaterFileWins(t *testing.T) {
	dir := testkit.Project(t, map[string]string{"fix.env": "NODE_ENV=production\nPORT=8080\nJWT_SECRET=q8Jf2mV9xK4pR7tL1wZ6cB3nY0sH5gDe\n" +
		"JWT_EXPIRATION=15m\nEMAIL_HOST=smtp.example.com\nEMAIL_PASSWORD=a-real-one-71\nCORS_ORIGIN=https://example.com\n" +
		"DATABASE_URL=postgres://api:pw@db.example.com/api?sslmode=verify-full\nJWT_SECRTE=\n"})
	r := runIn(t, "testdata/environments", "production", "json", "validate", "--file", "testdata/bad.env", "--file", dir+"/fix.env")
	if r.code != app.ExitFailed || !strings.Contains(r.out, `"name": "JWT_SECRTE"`) {
		t.Fatalf("the unknown name stays: %d\n%s", r.code, r.out)
	}
	if strings.Count(r.out, `"status": "ok"`) != 11 {
		t.Errorf("the second file must override the first:\n%s", r.out)
	}
}

func TestValidateConfiguredSources(t *testing.T) {
	dir := testkit.Project(t, map[string]string{
		"environments/variables.yaml":   schemaText(t),
		"environments/development.yaml": "variables:\n  sources:\n    - {type: dotenv, path: .env}\n    - {type: process}\n",
		".env":                          "NODE_ENV=development\nDATABASE_URL=postgres://postgres:postgres@localhost:5432/app\nJWT_SECRET=dev-secret-0123456789\nCORS_ORIGIN=http://localhost:3000\nPORT=3000\n",
	})
	t.Setenv("PORT", "4000")
	r := runIn(t, dir+"/environments", "development", "json", "validate")
	if r.code != 0 {
		t.Fatalf("exit %d: %v\n%s", r.code, r.err, r.out)
	}
	if !strings.Contains(r.out, `"source": "process"`) || !strings.Contains(r.out, `"source": "dotenv:.env:1"`) {
		t.Errorf("sources: the process environment must win over .env for PORT:\n%s", r.out)
	}
	if strings.Contains(r.out, `"PATH"`) || strings.Contains(r.out, `"HOME"`) {
		t.Errorf("process variables outside the schema must not be reported:\n%s", r.out)
	}
}

func TestValidateBadInputExits2(t *testing.T) {
	dir := testkit.Project(t, map[string]string{
		"broken.env":                   "NODE_ENV=production\nJWT_SECRET=\"unterminated\n",
		"environments/variables.yaml":  "variables:\n  A: {type: number}\n",
		"environments/production.yaml": "variables: {sources: [{type: dotenv, path: x.env}]}\n",
	})
	for _, c := range []struct {
		configDir string
		args      []string
		want      string
	}{
		{"testdata/environments", []string{"validate", "--file", dir + "/broken.env"}, "broken.env:2: unterminated double-quoted value"},
		{"testdata/environments", []string{"validate", "--file", dir + "/nope.env"}, "no such file"},
		{dir + "/environments", []string{"validate"}, `unknown type "number"`},
	} {
		r := runIn(t, c.configDir, "production", "table", c.args...)
		if r.code != app.ExitUsage || r.err == nil || !strings.Contains(r.err.Error(), c.want) {
			t.Errorf("%v: exit %d, %v; want 2 and %q", c.args, r.code, r.err, c.want)
		}
	}
	r := runIn(t, "testdata/environments", "qa", "table", "validate")
	if r.code != app.ExitUsage || !strings.Contains(r.err.Error(), "production, staging") {
		t.Errorf("unknown environment: %d %v", r.code, r.err)
	}
}

func TestValidateMissingConfiguredFile(t *testing.T) {
	r := runIn(t, "testdata/environments", "staging", "table", "validate")
	if r.code != app.ExitFailed || !strings.Contains(r.err.Error(), "variables file staging.env does not exist") {
		t.Errorf("exit %d: %v", r.code, r.err)
	}
}
