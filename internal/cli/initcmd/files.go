package initcmd

import (
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/deployctl/deployctl"
)

// File is one file init writes.
type File struct {
	Path string // in the new project, slash-separated
	Src  string // in the embedded assets
}

// placement maps folders of the repository's templates/ that belong
// elsewhere in a project; everything else keeps its place.
var placement = []struct{ from, to string }{
	{"templates/migrations/", "migrations/"},
	{"templates/docs/", "docs/"},
	{"templates/env.example", ".env.example"},
}

// Files lists what init writes, sorted by destination.
func Files() ([]File, error) {
	var out []File
	err := fs.WalkDir(deployctl.Assets, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		out = append(out, File{Path: destination(p), Src: p})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, err
}

func destination(src string) string {
	for _, m := range placement {
		if strings.HasSuffix(m.from, "/") && strings.HasPrefix(src, m.from) {
			return path.Join(m.to, strings.TrimPrefix(src, m.from))
		}
		if src == m.from {
			return m.to
		}
	}
	return src
}
