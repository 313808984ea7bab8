package initcmd

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deployctl/deployctl"
	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/config"
	"github.com/deployctl/deployctl/internal/testkit/cmdtest"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/envspec"
	"github.com/deployctl/deployctl/pkg/maintenance/page"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/all"
	"github.com/deployctl/deployctl/pkg/provider/local/vars"
)

type result struct {
	out, errOut string
	code        int
	err         error
}

func run(t *testing.T, flags app.GlobalFlags, args ...string) result {
	t.Helper()
	f := cmdtest.Factory()
	f.Flags = &flags
	err := cmdtest.Execute(NewCmdInit(f, nil), args...)
	out, errOut := cmdtest.Output(f)
	return result{out: out, errOut: errOut, code: app.ExitCode(err), err: err}
}

func TestInitParse(t *testing.T) {
	for _, c := range []struct {
		args  []string
		dir   string
		force bool
		code  int
	}{
		{[]string{}, ".", false, 0},
		{[]string{"proj", "--force"}, "proj", true, 0},
		{[]string{"a", "b"}, "", false, 2},
		{[]string{"init.go"}, "", false, 2},
	} {
		ios, _, _, _ := ui.Test()
		var got *InitOptions
		cmd := NewCmdInit(&app.Factory{IO: ios, Flags: &app.GlobalFlags{DryRun: true}}, func(o *InitOptions) error { got = o; return nil })
		cmd.SetArgs(c.args)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		if code := app.ExitCode(cmd.Execute()); code != c.code {
			t.Errorf("%v: exit %d, want %d", c.args, code, c.code)
			continue
		}
		if c.code == 0 && (got.Dir != c.dir || got.Force != c.force || !got.DryRun) {
			t.Errorf("%v: %+v", c.args, got)
		}
	}
}

var want = []string{
	".env.example", "docs/runbook.md", "environments/development.yaml", "environments/production.yaml",
	"environments/staging.yaml", "environments/variables.yaml", "migrations/00001_create_users.sql",
	"templates/docker-compose.yml", "templates/maintenance.html",
}

func TestInitWritesRefusesAndForces(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "proj")
	r := run(t, app.GlobalFlags{}, dir)
	if r.code != 0 {
		t.Fatalf("exit %d: %v", r.code, r.err)
	}
	for _, p := range want {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("not written: %s", p)
		}
	}
	if !strings.Contains(r.errOut, "cp .env.example .env") {
		t.Errorf("next steps: %q", r.errOut)
	}
	edited := filepath.Join(dir, "environments/production.yaml")
	_ = os.WriteFile(edited, []byte("# mine\n"), 0o644)
	r = run(t, app.GlobalFlags{}, dir)
	if r.code != app.ExitUsage || !strings.Contains(r.err.Error(), "environments/production.yaml") || !strings.Contains(r.err.Error(), "--force") {
		t.Fatalf("refusal: %d %v", r.code, r.err)
	}
	if b, _ := os.ReadFile(edited); string(b) != "# mine\n" {
		t.Error("a refused init changed a file")
	}
	r = run(t, app.GlobalFlags{Output: "json"}, dir, "--force")
	if r.code != 0 {
		t.Fatalf("--force: %d %v", r.code, r.err)
	}
	if b, _ := os.ReadFile(edited); string(b) == "# mine\n" {
		t.Error("--force did not overwrite")
	}
	var doc initResult
	if err := json.Unmarshal([]byte(r.out), &doc); err != nil || doc.Files[0].Action != "overwrite" {
		t.Errorf("json: %v %+v", err, doc)
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, "*", ".init-*"))
	if len(leftovers) > 0 {
		t.Errorf("temp files left: %v", leftovers)
	}
}

func TestInitDryRunWritesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "proj")
	r := run(t, app.GlobalFlags{DryRun: true}, dir)
	if r.code != 0 || !strings.Contains(r.out, "would create") || !strings.Contains(r.out, "environments/variables.yaml") {
		t.Fatalf("%d %v\n%s", r.code, r.err, r.out)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Error("dry run created the folder")
	}
}

// TestEmbeddedFilesAreTheRepositoryFiles: one source of truth.
func TestEmbeddedFilesAreTheRepositoryFiles(t *testing.T) {
	n := 0
	err := fs.WalkDir(deployctl.Assets, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		emb, _ := fs.ReadFile(deployctl.Assets, p)
		disk, err := os.ReadFile(filepath.Join("../../..", p))
		if err != nil || string(disk) != string(emb) {
			t.Errorf("%s: the embedded copy differs from the repository's (%v)", p, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, top := range []string{"environments", "templates"} {
		_ = filepath.WalkDir(filepath.Join("../../..", top), func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel("../../..", p)
				if _, err := fs.Stat(deployctl.Assets, filepath.ToSlash(rel)); err != nil {
					t.Errorf("%s is in the repository but not embedded", rel)
				}
			}
			return nil
		})
	}
	files, _ := Files()
	if n != len(files) || n < len(want) {
		t.Errorf("files: %d embedded, %d listed", n, len(files))
	}
}

func TestEnvironmentFilesLoadCleanly(t *testing.T) {
	dir := t.TempDir()
	if r := run(t, app.GlobalFlags{}, dir); r.code != 0 {
		t.Fatal(r.err)
	}
	for _, env := range []string{"development", "staging", "production"} {
		l, err := config.Load(config.Options{Env: env, Dir: filepath.Join(dir, "environments"), Providers: all.Registry()})
		if err != nil {
			t.Fatalf("%s: %v", env, err)
		}
		if len(l.Warnings) > 0 {
			t.Errorf("%s: warnings %v", env, l.Warnings)
		}
		if len(l.Variables.Sources) == 0 || l.Analysis.ErrorRateQuery == "" || !strings.Contains(l.Analysis.P95Query, "{{slot}}") {
			t.Errorf("%s: sections missing: %+v", env, l.Config)
		}
	}
	dev, _ := config.Load(config.Options{Env: "development", Dir: filepath.Join(dir, "environments"), Providers: all.Registry()})
	if dev.Traffic.Provider != "local" || dev.Backup.Storage.Provider != "file" {
		t.Errorf("development must use local providers only: %+v %+v", dev.Traffic, dev.Backup.Storage)
	}
	prod, _ := config.Load(config.Options{Env: "production", Dir: filepath.Join(dir, "environments"), Providers: all.Registry()})
	if prod.Traffic.Provider != "kubernetes" || prod.Backup.Storage.Provider != "s3" || prod.Variables.Sources[1]["type"] != "aws-secrets" {
		t.Errorf("production: %+v", prod.Config)
	}
}

func TestEnvExampleIsValidForDevelopmentOnly(t *testing.T) {
	dir := t.TempDir()
	if r := run(t, app.GlobalFlags{}, dir); r.code != 0 {
		t.Fatal(r.err)
	}
	s, err := envspec.Load(filepath.Join(dir, "environments/variables.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Vars) != 11 {
		t.Errorf("the reference deployment has eleven variables, not %d", len(s.Vars))
	}
	src := &vars.Dotenv{File: filepath.Join(dir, ".env.example"), Display: ".env.example"}
	vs, err := src.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]provider.Variable{}
	for _, v := range vs {
		m[v.Name] = v
	}
	if rep := s.Validate("development", m); !rep.OK {
		t.Errorf(".env.example must be valid for development: %+v", rep.Variables)
	}
	rep := s.Validate("production", m)
	bad := map[string]bool{}
	for _, v := range rep.Variables {
		if v.Status != envspec.StatusOK {
			bad[v.Name] = true
		}
	}
	for _, name := range []string{"NODE_ENV", "DATABASE_URL", "JWT_SECRET", "EMAIL_HOST", "EMAIL_USER", "EMAIL_PASSWORD", "CORS_ORIGIN"} {
		if !bad[name] {
			t.Errorf("production must reject the example's %s", name)
		}
	}
}

func TestMaintenancePageIsTheDefault(t *testing.T) {
	b, err := fs.ReadFile(deployctl.Assets, "templates/maintenance.html")
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != page.DefaultTemplate {
		t.Error("the maintenance page's default must be the embedded templates/maintenance.html")
	}
	if _, err := page.New(filepath.Join("../../../templates/maintenance.html"), nil); err != nil {
		t.Error(err)
	}
}

// After `git init && deployctl init && git add -A`, the secrets (.env),
// the database dumps (backups/) and the local state (.deployctl/) are not
// staged; .env.example is. An existing .gitignore is completed, not
// replaced, and a second init adds nothing.
func TestInitKeepsSecretsAndDumpsOutOfGit(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		t.Fatal("git is needed for this test")
	}
	dir := t.TempDir()
	gitRun := func(args ...string) string {
		cmd := exec.Command(git, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	gitRun("init", "-q")
	os.WriteFile(filepath.Join(dir, ".gitignore"), []byte("node_modules/"), 0o644)
	if r := run(t, app.GlobalFlags{}, dir); r.code != 0 || !strings.Contains(r.out, "appended to") {
		t.Fatalf("exit %d %v\n%s", r.code, r.err, r.out)
	}
	for _, p := range []string{".env", "backups/20261203T010000Z/dump.zst", ".deployctl/development/history.jsonl"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), []byte("secret"), 0o600)
	}
	gitRun("add", "-A")
	staged := gitRun("diff", "--cached", "--name-only")
	for _, bad := range []string{".env\n", "backups/", ".deployctl/"} {
		if strings.Contains(staged, bad) {
			t.Errorf("%q was staged:\n%s", bad, staged)
		}
	}
	if !strings.Contains(staged, ".env.example") || !strings.Contains(staged, "environments/production.yaml") {
		t.Errorf("the project's own files were not staged:\n%s", staged)
	}
	b, _ := os.ReadFile(filepath.Join(dir, ".gitignore"))
	if !strings.HasPrefix(string(b), "node_modules/\n") {
		t.Errorf("the existing .gitignore was not kept:\n%s", b)
	}
	if r := run(t, app.GlobalFlags{}, dir, "--force"); r.code != 0 || strings.Contains(r.out, ".gitignore") {
		t.Fatalf("a second init touched .gitignore: %d %v\n%s", r.code, r.err, r.out)
	}
	if b2, _ := os.ReadFile(filepath.Join(dir, ".gitignore")); string(b2) != string(b) {
		t.Errorf("a second init changed .gitignore:\n%s", b2)
	}
}
