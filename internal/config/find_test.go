package config

import (
	"os"
	"path/filepath"
	"testing"
)

// deployctl run from a sub-folder of the project finds its environments/
// (as git finds .git), but not beyond the top of a git checkout.
func TestFindDirUpwards(t *testing.T) {
	top := t.TempDir()
	proj := filepath.Join(top, "shop")
	sub := filepath.Join(proj, "migrations", "old")
	for _, d := range []string{filepath.Join(proj, "environments"), sub, filepath.Join(top, "environments")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(sub)
	if got := FindDir("environments"); got != filepath.Join("..", "..", "environments") {
		t.Fatalf("from shop/migrations/old: %q", got)
	}
	if got := FindDir("/elsewhere/envs"); got != "/elsewhere/envs" {
		t.Fatalf("an absolute dir changed: %q", got)
	}
	// a checkout without environments/ of its own: the search stops at its top
	repo := filepath.Join(top, "other")
	os.MkdirAll(filepath.Join(repo, ".git"), 0o755)
	os.MkdirAll(filepath.Join(repo, "src"), 0o755)
	t.Chdir(filepath.Join(repo, "src"))
	if got := FindDir("environments"); got != "environments" {
		t.Fatalf("the search went above the checkout's top: %q", got)
	}
}
