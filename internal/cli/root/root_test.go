package root

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/provider/all"
)

func newTestFactory() *app.Factory {
	ios, _, _, _ := ui.Test()
	f := app.NewFactory(all.Registry())
	f.IO = ios
	f.Environ = func() []string { return nil }
	return f
}

func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walk(sub, fn)
	}
}

// Every command an operator can run shows examples in its --help.
func TestEveryCommandHasExamples(t *testing.T) {
	f := newTestFactory()
	root := NewCmdRoot(f)
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	n := 0
	walk(root, func(c *cobra.Command) {
		if !c.Runnable() || c.Hidden || strings.HasPrefix(c.CommandPath(), "deployctl completion") || c.Name() == "help" {
			return
		}
		n++
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s has no examples in its --help", c.CommandPath())
		}
	})
	if n < 30 {
		t.Errorf("only %d runnable commands found; the tree is not assembled", n)
	}
}

// --help of every command works without any configuration, cluster or
// database: nothing is built before a command runs.
func TestHelpNeedsNothing(t *testing.T) {
	f := newTestFactory()
	root := NewCmdRoot(f)
	var paths [][]string
	walk(root, func(c *cobra.Command) {
		args := strings.Fields(c.CommandPath())[1:]
		paths = append(paths, append(args, "--help"))
	})
	for _, args := range paths {
		f := newTestFactory()
		f.Flags.ConfigDir = t.TempDir() // no environments at all
		code := app.Run(context.Background(), f, NewCmdRoot(f), args)
		if code != 0 {
			t.Errorf("deployctl %s: exit %d", strings.Join(args, " "), code)
		}
	}
}

func TestExitCodesTopicAndVersion(t *testing.T) {
	ios, _, out, _ := ui.Test()
	f := app.NewFactory(all.Registry())
	f.IO = ios
	if code := app.Run(context.Background(), f, NewCmdRoot(f), []string{"help", "exit-codes"}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"3    another operator holds", "4    a dependency could not be reached", "130"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help exit-codes lacks %q:\n%s", want, out)
		}
	}
	out.Reset()
	f.Flags.Output = "json"
	if code := app.Run(context.Background(), f, NewCmdRoot(f), []string{"version", "-o", "json"}); code != 0 || !strings.Contains(out.String(), `"version": "dev"`) {
		t.Errorf("version -o json: %d %s", code, out)
	}
	if code := app.Run(context.Background(), f, NewCmdRoot(f), []string{"version", "-o", "yaml"}); code != 2 {
		t.Errorf("bad -o: exit %d, want 2", code)
	}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		out.Reset()
		if code := app.Run(context.Background(), f, NewCmdRoot(f), []string{"completion", shell}); code != 0 || !strings.Contains(out.String(), "deployctl") {
			t.Errorf("completion %s: exit %d", shell, code)
		}
	}
}

func TestUnknownEnvironmentExits2ListingKnown(t *testing.T) {
	ios, _, _, errOut := ui.Test()
	f := app.NewFactory(all.Registry())
	f.IO = ios
	f.Environ = func() []string { return nil }
	code := app.Run(context.Background(), f, NewCmdRoot(f), []string{"rollout", "status", "--env", "prod", "--config-dir", "../../../environments"})
	if code != 2 {
		t.Fatalf("exit %d, want 2; stderr %s", code, errOut)
	}
	if !strings.Contains(errOut.String(), "development, production, staging") {
		t.Errorf("known environments not listed: %s", errOut)
	}
}

// A build from a git checkout says which revision it is (Go embeds it);
// it used to say "dev (commit none, built unknown)".
func TestVersionFromACheckout(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		t.Fatal("git is needed for this test")
	}
	head, err := exec.Command(git, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("not a git checkout: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "deployctl")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, "github.com/deployctl/deployctl/cmd/deployctl")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version", "-o", "json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var b app.Build
	if err := json.Unmarshal(out, &b); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !strings.HasPrefix(string(head), b.Commit) || len(b.Commit) < 7 || b.Date == "unknown" || !strings.HasPrefix(b.Go, "go1.") {
		t.Fatalf("version of a build at %s: %+v", strings.TrimSpace(string(head)), b)
	}
}

// A bad flag on a subcommand points at that subcommand's help, not the
// root's (finding 10).
func TestUsageErrorPointsAtTheCommandsHelp(t *testing.T) {
	for args, want := range map[string]string{
		"rollout green --wieght 10": "see 'deployctl rollout --help'",
		"backup list --nope":        "see 'deployctl backup list --help'",
		"bogus":                     "see 'deployctl --help'",
	} {
		ios, _, _, errOut := ui.Test()
		f := app.NewFactory(all.Registry())
		f.IO = ios
		if code := app.Run(context.Background(), f, NewCmdRoot(f), strings.Fields(args)); code != 2 || !strings.Contains(errOut.String(), want) {
			t.Errorf("%s: exit %d, %q; want 2 and %q", args, code, errOut.String(), want)
		}
	}
}

// Read-only commands do not offer --dry-run, --yes, --confirm or --reason in
// their help; changing ones do (finding 10). Every listed command exists.
func TestReadOnlyHelpHidesChangingFlags(t *testing.T) {
	f := newTestFactory()
	root := NewCmdRoot(f)
	seen := map[string]bool{}
	walk(root, func(c *cobra.Command) { seen[c.CommandPath()] = true })
	for path := range readOnly {
		if !seen[path] {
			t.Errorf("readOnly names %q, which is not a command", path)
		}
	}
	help := func(args ...string) string {
		ios, _, out, _ := ui.Test()
		f := app.NewFactory(all.Registry())
		f.IO = ios
		app.Run(context.Background(), f, NewCmdRoot(f), append(args, "--help"))
		return out.String()
	}
	if h := help("rollout", "status"); strings.Contains(h, "--dry-run") || strings.Contains(h, "--reason") || !strings.Contains(h, "--env") {
		t.Errorf("rollout status --help:\n%s", h)
	}
	if h := help("rollout", "promote"); !strings.Contains(h, "--dry-run") || !strings.Contains(h, "--reason") {
		t.Errorf("rollout promote --help lost the changing flags:\n%s", h)
	}
}

// The man pages: one per command, each with its name and its examples.
func TestManPages(t *testing.T) {
	dir := t.TempDir()
	if err := WriteManPages(newTestFactory(), dir); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, "deployctl-rollout-promote.1"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), `.TH "DEPLOYCTL" "1"`) || !strings.Contains(string(page), "deployctl-rollout-promote") || !strings.Contains(string(page), "EXAMPLE") {
		t.Fatalf("page:\n%.600s", page)
	}
	var n int
	walk(NewCmdRoot(newTestFactory()), func(c *cobra.Command) {
		if c.IsAvailableCommand() {
			n++
		}
	})
	if pages, _ := filepath.Glob(filepath.Join(dir, "*.1")); len(pages) < n {
		t.Fatalf("%d pages for %d commands", len(pages), n)
	}
}
