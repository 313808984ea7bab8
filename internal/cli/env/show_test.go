package env

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/testkit"
	"github.com/deployctl/deployctl/internal/testkit/cmdtest"
)

func TestShowGolden(t *testing.T) {
	r := runIn(t, "testdata/environments", "production", "table", "show", "--file", "testdata/bad.env")
	if r.code != 0 {
		t.Fatalf("exit %d: %v", r.code, r.err)
	}
	testkit.Golden(t, "show_bad"+".golden", r.out)
	for _, secret := range []string{"your-secret-key", "postgres:postgres", "typo-of-a-secret", "EMAIL_PASSWORD=password"} {
		if strings.Contains(r.out, secret) {
			t.Errorf("show leaks %q:\n%s", secret, r.out)
		}
	}
	if !strings.Contains(r.out, "postgresql://postgres@localhost:5432/app set (") {
		t.Errorf("a secret URL shows its host:\n%s", r.out)
	}
}

func TestShowJSON(t *testing.T) {
	r := runIn(t, "testdata/environments", "production", "json", "show", "--file", "testdata/good.env")
	var doc showResult
	if err := json.Unmarshal([]byte(r.out), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Env != "production" || len(doc.Variables) != 11 {
		t.Fatalf("%+v", doc)
	}
	for _, v := range doc.Variables {
		if v.Secret && !strings.Contains(v.Value, "set (") {
			t.Errorf("%s not redacted: %s", v.Name, v.Value)
		}
	}
}

func TestShowDefaultsAndUnset(t *testing.T) {
	dir := testkit.Project(t, map[string]string{"min.env": "NODE_ENV=production\nEMAIL_PORT=\n"})
	r := runIn(t, "testdata/environments", "production", "json", "show", "--file", dir+"/min.env")
	var doc showResult
	_ = json.Unmarshal([]byte(r.out), &doc)
	got := map[string]shownVar{}
	for _, v := range doc.Variables {
		got[v.Name] = v
	}
	if v := got["PORT"]; v.Value != "3000" || v.Source != "default" || !v.Set {
		t.Errorf("PORT: %+v", v)
	}
	if v := got["EMAIL_PORT"]; v.Value != "587" || v.Source != "default" {
		t.Errorf("blank takes the default: %+v", v)
	}
	if v := got["JWT_SECRET"]; v.Set || v.Value != "" {
		t.Errorf("unset: %+v", v)
	}
}

func TestShowAndDiffParse(t *testing.T) {
	f := cmdtest.Factory()
	var show *ShowOptions
	cmd := NewCmdShow(f, func(o *ShowOptions) error { show = o; return nil })
	cmd.SetArgs([]string{"--file", "a", "--file", "b"})
	if err := cmd.Execute(); err != nil || strings.Join(show.Files, ",") != "a,b" {
		t.Errorf("show: %v %+v", err, show)
	}
	var diff *DiffOptions
	for _, c := range []struct {
		args []string
		code int
	}{{[]string{"staging", "production"}, 0}, {[]string{"staging"}, 2}, {[]string{"a", "a"}, 2}, {[]string{"a", "b", "c"}, 2}} {
		cmd := NewCmdDiff(f, func(o *DiffOptions) error { diff = o; return nil })
		cmd.SetArgs(c.args)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		if code := app.ExitCode(cmd.Execute()); code != c.code {
			t.Errorf("diff %v: exit %d, want %d", c.args, code, c.code)
		}
	}
	if diff.EnvA != "staging" || diff.EnvB != "production" {
		t.Errorf("diff: %+v", diff)
	}
	var keys *KeysOptions
	cmd = NewCmdKeys(f, func(o *KeysOptions) error { keys = o; return nil })
	cmd.SetArgs([]string{})
	if err := cmd.Execute(); err != nil || keys == nil {
		t.Errorf("keys: %v", err)
	}
}

func TestDiff(t *testing.T) {
	shared := "JWT_SECRET=q8Jf2mV9xK4pR7tL1wZ6cB3nY0sH5gDe\n"
	dir := testkit.Project(t, map[string]string{
		"environments/variables.yaml":  schemaText(t),
		"environments/staging.yaml":    "variables: {sources: [{type: dotenv, path: staging.env}]}\n",
		"environments/production.yaml": "variables: {sources: [{type: dotenv, path: production.env}]}\n",
		"staging.env":                  "NODE_ENV=staging\nEMAIL_HOST=smtp.example.com\nEMAIL_PASSWORD=staging-pass-1\nSTAGING_ONLY=x\n" + shared,
		"production.env":               "NODE_ENV=production\nEMAIL_HOST=smtp.example.com\nEMAIL_PASSWORD=prod-pass-2\nCORS_ORIGIN=https://example.com\n" + shared,
	})
	r := runIn(t, dir+"/environments", "development", "table", "diff", "staging", "production")
	if r.code != 0 {
		t.Fatalf("exit %d: %v", r.code, r.err)
	}
	testkit.Golden(t, "diff"+".golden", r.out)
	if !strings.Contains(r.errOut, "warning: JWT_SECRET: the same secret is set in staging and production") {
		t.Errorf("reused secret warning: %q", r.errOut)
	}
	for _, secret := range []string{"staging-pass-1", "prod-pass-2", "q8Jf2mV9"} {
		if strings.Contains(r.out+r.errOut, secret) {
			t.Errorf("diff leaks %s", secret)
		}
	}
	r = runIn(t, dir+"/environments", "development", "json", "diff", "staging", "production")
	var doc diffResult
	if err := json.Unmarshal([]byte(r.out), &doc); err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, v := range doc.Variables {
		states[v.Name] = v.State
	}
	want := map[string]string{"NODE_ENV": "differs", "EMAIL_HOST": "same", "EMAIL_PASSWORD": "differs",
		"STAGING_ONLY": "only_a", "CORS_ORIGIN": "only_b", "JWT_SECRET": "same"}
	for k, st := range want {
		if states[k] != st {
			t.Errorf("%s: %q, want %q", k, states[k], st)
		}
	}
	if len(doc.Warnings) != 1 {
		t.Errorf("warnings: %v", doc.Warnings)
	}
	r = runIn(t, dir+"/environments", "development", "table", "diff", "staging", "qa")
	if r.code != app.ExitUsage {
		t.Errorf("unknown environment: %d %v", r.code, r.err)
	}
}

func TestKeys(t *testing.T) {
	r := runIn(t, "testdata/environments", "production", "json", "keys")
	var doc struct{ Keys []keyInfo }
	if err := json.Unmarshal([]byte(r.out), &doc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, k := range doc.Keys {
		if k.Key == "traffic.local.slots.green.url" {
			found = k.Env == "DEPLOYCTL_TRAFFIC_LOCAL_SLOTS_GREEN_URL" && k.Default == "http://127.0.0.1:3002"
		}
	}
	if !found || len(doc.Keys) < 40 {
		t.Errorf("keys: %d, green url found: %v", len(doc.Keys), found)
	}
	r = runIn(t, "does-not-exist", "nope", "table", "keys")
	if r.code != 0 || !strings.Contains(r.out, "DEPLOYCTL_ANALYSIS_P95_MAX") {
		t.Errorf("keys needs no environment: %d %v", r.code, r.err)
	}
}
