package config

import (
	"os"
	"path/filepath"
)

// FindDir finds the project's config dir (a relative dir such as
// "environments") from the working folder upwards, as git finds .git and
// kubectl its kubeconfig: so that deployctl works from shop/migrations/ as
// from shop/. It stops at the top of a git checkout (the folder that holds
// .git) and at the filesystem's root; where nothing is found it returns dir
// as it was, and the error then names it.
func FindDir(dir string) string {
	if filepath.IsAbs(dir) {
		return dir
	}
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		return dir
	}
	wd, err := os.Getwd()
	if err != nil {
		return dir
	}
	for cur := wd; ; {
		cand := filepath.Join(cur, dir)
		if st, err := os.Stat(cand); err == nil && st.IsDir() {
			if rel, err := filepath.Rel(wd, cand); err == nil {
				return rel
			}
			return cand
		}
		if _, err := os.Stat(filepath.Join(cur, ".git")); err == nil {
			return dir // the top of the checkout: no further
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return dir
		}
		cur = parent
	}
}
