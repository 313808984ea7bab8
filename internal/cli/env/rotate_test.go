package env

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/testkit"
	"github.com/deployctl/deployctl/internal/testkit/cmdtest"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/local/vars"
)

const (
	rotCanary     = "CANARYrotold-5d0c8e2f7a1b4c9d"
	rotStdin      = "CANARYrotnew-e7b1a0f93c6d2e48aa"
	rotSchemaText = `variables:
  NODE_ENV: {type: string}
  JWT_SECRET:
    type: string
    secret: true
    min_length: 16
    previous: true
    rotation: {max_age: 90d}
  EMAIL_PASSWORD: {type: string, secret: true}
  DATABASE_URL: {type: url, secret: true}
environments:
  production:
    JWT_SECRET: {min_length: 40}
`
)

var rotNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// rotProject is a project whose staging and production read dotenv files
// and whose development reads the process environment.
func rotProject(t *testing.T) (string, map[string]bool) {
	t.Helper()
	files := map[string]string{
		"environments/variables.yaml":   rotSchemaText,
		"environments/staging.yaml":     "variables: {sources: [{type: dotenv, path: staging.env}]}\n",
		"environments/production.yaml":  "protected: true\nvariables: {sources: [{type: dotenv, path: production.env}]}\n",
		"environments/development.yaml": "variables: {sources: [{type: dotenv, path: dev.env}, {type: process}]}\n",
		"staging.env": "# staging\nNODE_ENV=staging\nJWT_SECRET=" + rotCanary + "\nEMAIL_PASSWORD=" + rotCanary + "x\n" +
			"DATABASE_URL=postgres://app:" + rotCanary + "@db/app\n",
		"production.env": "NODE_ENV=production\n# deployctl: JWT_SECRET rotated 2026-06-01T00:00:00Z\nJWT_SECRET=" + rotCanary + "-production-only-0123\n" +
			"EMAIL_PASSWORD=" + rotCanary + "x\n",
		"dev.env": "NODE_ENV=development\n",
	}
	dir := testkit.Project(t, files)
	inputs := map[string]bool{}
	for name := range files {
		inputs[filepath.Join(dir, name)] = true
	}
	return dir, inputs
}

// runFlags runs `env ARGS…` in-process with flags and stdin.
func runFlags(t *testing.T, dir string, flags app.GlobalFlags, stdin string, args ...string) result {
	t.Helper()
	f := cmdtest.Factory()
	flags.ConfigDir = filepath.Join(dir, "environments")
	if flags.Output == "" {
		flags.Output = "table"
	}
	f.Flags = &flags
	f.IO.In = strings.NewReader(stdin)
	f.Now = func() time.Time { return rotNow }
	err := cmdtest.Execute(NewCmdEnv(f), args...)
	out, errOut := cmdtest.Output(f)
	if err != nil {
		errOut += err.Error()
	}
	return result{out: out, errOut: errOut, err: err, code: app.ExitCode(err)}
}

func dotenvValues(t *testing.T, file string) map[string]string {
	t.Helper()
	vs, err := (&vars.Dotenv{File: file, Display: file}).Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, v := range vs {
		m[v.Name] = v.Value
	}
	return m
}

// leaks fails when a value shows in the output or any file deployctl
// wrote (history, state, lock), the variables files aside.
func leaks(t *testing.T, dir string, inputs map[string]bool, r result, values ...string) {
	t.Helper()
	for _, v := range values {
		if strings.Contains(r.out+r.errOut, v) {
			t.Errorf("output shows a value:\n%s\n%s", r.out, r.errOut)
		}
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || inputs[p] {
			return nil
		}
		raw, _ := os.ReadFile(p)
		for _, v := range values {
			if bytes.Contains(raw, []byte(v)) {
				t.Errorf("%s holds a value", p)
			}
		}
		return nil
	})
}

func historyText(t *testing.T, dir string, inputs map[string]bool) string {
	t.Helper()
	var b strings.Builder
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !inputs[p] && strings.Contains(p, "history") {
			raw, _ := os.ReadFile(p)
			b.Write(raw)
		}
		return nil
	})
	return b.String()
}

func TestRotateDotenvCanary(t *testing.T) {
	dir, inputs := rotProject(t)
	r := runFlags(t, dir, app.GlobalFlags{Env: "staging", Yes: true}, "", "rotate", "JWT_SECRET")
	if r.code != 0 {
		t.Fatalf("exit %d: %s%s", r.code, r.out, r.errOut)
	}
	got := dotenvValues(t, filepath.Join(dir, "staging.env"))
	generated := got["JWT_SECRET"]
	if generated == rotCanary || len(generated) != 32 || got["JWT_SECRET_PREVIOUS"] != rotCanary || got["NODE_ENV"] != "staging" {
		t.Fatalf("staging.env after the rotation: new %d chars, previous kept %v", len(generated), got["JWT_SECRET_PREVIOUS"] == rotCanary)
	}
	for _, w := range []string{"rotated JWT_SECRET in staging", "dotenv file staging.env", "JWT_SECRET_PREVIOUS", "next: restart the application in both slots"} {
		if !strings.Contains(r.out, w) {
			t.Errorf("output lacks %q:\n%s", w, r.out)
		}
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "staging.env"))
	if !strings.HasPrefix(string(raw), "# staging\n") || !strings.Contains(string(raw), "# deployctl: JWT_SECRET rotated 2026-11-25T12:00:00Z\n") {
		t.Errorf("file:\n%s", raw)
	}
	hist := historyText(t, dir, inputs)
	if !strings.Contains(hist, "env rotate JWT_SECRET") || !strings.Contains(hist, `"ok"`) {
		t.Errorf("history: %q", hist)
	}
	leaks(t, dir, inputs, r, rotCanary, generated)

	// Again from stdin, as JSON: the value is checked, written, never shown.
	r = runFlags(t, dir, app.GlobalFlags{Env: "staging", Yes: true, Output: "json"}, rotStdin+"\n", "rotate", "JWT_SECRET", "--from-stdin")
	if r.code != 0 {
		t.Fatalf("from stdin: exit %d: %s", r.code, r.errOut)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.out), &doc); err != nil || doc["name"] != "JWT_SECRET" || doc["generated"] != false || doc["previous"] != "JWT_SECRET_PREVIOUS" {
		t.Fatalf("json: %v %s", err, r.out)
	}
	got = dotenvValues(t, filepath.Join(dir, "staging.env"))
	if got["JWT_SECRET"] != rotStdin || got["JWT_SECRET_PREVIOUS"] != generated {
		t.Errorf("stdin value not written, or the previous one not kept")
	}
	leaks(t, dir, inputs, r, rotCanary, generated, rotStdin)
}

func TestRotateRefusesWithExit2(t *testing.T) {
	dir, _ := rotProject(t)
	t.Setenv("EMAIL_PASSWORD", rotCanary+"-process")
	cases := []struct {
		name  string
		env   string
		stdin string
		args  []string
		want  string
	}{
		{"unknown", "staging", "", []string{"rotate", "JWT_SECRTE"}, "not in the variables schema"},
		{"not secret", "staging", "", []string{"rotate", "NODE_ENV"}, "not a secret variable"},
		{"previous itself", "staging", "", []string{"rotate", "JWT_SECRET_PREVIOUS"}, "rotate JWT_SECRET instead"},
		{"read-only source", "development", "", []string{"rotate", "EMAIL_PASSWORD"}, "process environment"},
		{"not set", "development", "", []string{"rotate", "JWT_SECRET"}, "not set in any variable source"},
		{"url not generated", "staging", "", []string{"rotate", "DATABASE_URL"}, "--from-stdin"},
		{"invalid stdin", "staging", "CANARYshort\n", []string{"rotate", "JWT_SECRET", "--from-stdin"}, "does not pass its rules"},
		{"empty stdin", "staging", "\n", []string{"rotate", "JWT_SECRET", "--from-stdin"}, "empty value"},
		{"same value", "staging", rotCanary, []string{"rotate", "JWT_SECRET", "--from-stdin"}, "current value"},
		{"protected needs --confirm", "production", "", []string{"rotate", "JWT_SECRET"}, "--confirm production"},
	}
	before, _ := os.ReadFile(filepath.Join(dir, "staging.env"))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runFlags(t, dir, app.GlobalFlags{Env: c.env, Yes: true}, c.stdin, c.args...)
			if r.code != app.ExitUsage || !strings.Contains(r.errOut, c.want) {
				t.Errorf("exit %d, want 2 with %q: %s", r.code, c.want, r.errOut)
			}
			if strings.Contains(r.out+r.errOut, "CANARY") {
				t.Errorf("a value is shown: %s", r.errOut)
			}
		})
	}
	after, _ := os.ReadFile(filepath.Join(dir, "staging.env"))
	if !bytes.Equal(before, after) {
		t.Error("a refused rotation changed staging.env")
	}
}

func TestRotateDryRunAndProtectedConfirm(t *testing.T) {
	dir, inputs := rotProject(t)
	file := filepath.Join(dir, "production.env")
	before, _ := os.ReadFile(file)
	r := runFlags(t, dir, app.GlobalFlags{Env: "production", DryRun: true}, "", "rotate", "JWT_SECRET")
	if r.code != 0 || !strings.Contains(r.out, "dry run: would rotate JWT_SECRET in production") || !strings.Contains(r.out, "nothing was changed") {
		t.Fatalf("dry run: %d %s%s", r.code, r.out, r.errOut)
	}
	if after, _ := os.ReadFile(file); !bytes.Equal(before, after) || historyText(t, dir, inputs) != "" {
		t.Error("a dry run changed the file or recorded history")
	}
	r = runFlags(t, dir, app.GlobalFlags{Env: "production", Yes: true, Confirm: "production"}, "", "rotate", "JWT_SECRET")
	if r.code != 0 {
		t.Fatalf("confirmed: %d %s", r.code, r.errOut)
	}
	if v := dotenvValues(t, file)["JWT_SECRET"]; len(v) != 40 {
		t.Errorf("production's min_length 40: got %d chars", len(v))
	}
}

// Two rotations at once: the second finds the lock held and changes nothing.
func TestRotateWhileLockedExits3(t *testing.T) {
	dir, _ := rotProject(t)
	f := cmdtest.Factory()
	f.Flags = &app.GlobalFlags{Env: "staging", ConfigDir: filepath.Join(dir, "environments")}
	locker, err := f.Locker(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	release, err := locker.Acquire(context.Background(), provider.Holder{Actor: "bob", Host: "other", PID: 42, Command: "env rotate", Since: rotNow})
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	file := filepath.Join(dir, "staging.env")
	before, _ := os.ReadFile(file)
	r := runFlags(t, dir, app.GlobalFlags{Env: "staging", Yes: true}, "", "rotate", "JWT_SECRET")
	if r.code != app.ExitLocked || !strings.Contains(r.errOut, "locked by bob") {
		t.Fatalf("exit %d, want 3: %s", r.code, r.errOut)
	}
	if after, _ := os.ReadFile(file); !bytes.Equal(before, after) {
		t.Error("a rotation ran beside the lock holder")
	}
}

func TestRotateParse(t *testing.T) {
	for _, c := range []struct {
		args []string
		tty  bool
		code int
	}{
		{[]string{"JWT_SECRET"}, false, 0},
		{[]string{"JWT_SECRET", "--from-stdin"}, false, 0},
		{[]string{"JWT_SECRET", "--from-stdin"}, true, app.ExitUsage},
		{[]string{}, false, app.ExitUsage},
		{[]string{"A", "B"}, false, app.ExitUsage},
	} {
		f := cmdtest.Factory()
		f.IO.StdinTTY = c.tty
		var got *RotateOptions
		err := cmdtest.Execute(NewCmdRotate(f, func(o *RotateOptions) error { got = o; return nil }), c.args...)
		if code := app.ExitCode(err); code != c.code {
			t.Errorf("%v tty=%v: exit %d (%v), want %d", c.args, c.tty, code, err, c.code)
		}
		if c.code == 0 && (got.Name != "JWT_SECRET" || got.FromStdin != (len(c.args) == 2)) {
			t.Errorf("%v: %+v", c.args, got)
		}
	}
}

func TestDiffFlagsSecretsPastMaxAge(t *testing.T) {
	dir, _ := rotProject(t)
	stale := func() map[string][]string {
		t.Helper()
		r := runFlags(t, dir, app.GlobalFlags{Env: "development", Output: "json"}, "", "diff", "staging", "production")
		if r.code != 0 {
			t.Fatalf("diff: %d %s", r.code, r.errOut)
		}
		var doc diffResult
		if err := json.Unmarshal([]byte(r.out), &doc); err != nil {
			t.Fatal(err)
		}
		out := map[string][]string{}
		for _, v := range doc.Variables {
			if len(v.Stale) > 0 {
				out[v.Name] = v.Stale
			}
		}
		if strings.Contains(r.out+r.errOut, "CANARY") {
			t.Errorf("diff shows a value")
		}
		if len(out) > 0 && !strings.Contains(r.errOut, "JWT_SECRET in production: unchanged since 2026-06-01T00:00:00Z") {
			t.Errorf("warning: %s", r.errOut)
		}
		return out
	}
	// staging has no record, production's is 177 days old (max_age 90d);
	// EMAIL_PASSWORD has no max_age and is never flagged.
	if got := stale(); strings.Join(got["JWT_SECRET"], ",") != "staging,production" || len(got) != 1 {
		t.Errorf("stale before the rotation: %v", got)
	}
	if r := runFlags(t, dir, app.GlobalFlags{Env: "staging", Yes: true}, "", "rotate", "JWT_SECRET"); r.code != 0 {
		t.Fatalf("rotate: %s", r.errOut)
	}
	if got := stale(); strings.Join(got["JWT_SECRET"], ",") != "production" {
		t.Errorf("stale after rotating staging: %v", got)
	}
}

func TestValidateWarnsWhenProductionAndStagingShareASecret(t *testing.T) {
	dir, _ := rotProject(t)
	r := runFlags(t, dir, app.GlobalFlags{Env: "production", Output: "json"}, "", "validate")
	if !strings.Contains(r.errOut, "warning: EMAIL_PASSWORD: production and staging share the same secret value") {
		t.Fatalf("no shared-secret warning (exit %d): %s", r.code, r.errOut)
	}
	if strings.Contains(r.errOut, "JWT_SECRET:") || strings.Contains(r.out+r.errOut, "CANARY") {
		t.Errorf("wrong warning, or a value shown: %s", r.errOut)
	}
	var doc validateResult
	if err := json.Unmarshal([]byte(r.out), &doc); err != nil || len(doc.Warnings) != 1 {
		t.Errorf("json warnings: %v %v", doc.Warnings, err)
	}
	r = runFlags(t, dir, app.GlobalFlags{Env: "staging"}, "", "validate")
	if !strings.Contains(r.errOut, "EMAIL_PASSWORD: staging and production share") {
		t.Errorf("from staging: %s", r.errOut)
	}
	// With --file nothing else is read, so nothing is compared.
	r = runFlags(t, dir, app.GlobalFlags{Env: "production"}, "", "validate", "--file", filepath.Join(dir, "production.env"))
	if strings.Contains(r.errOut, "share") {
		t.Errorf("--file compared with staging: %s", r.errOut)
	}
}
