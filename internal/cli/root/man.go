package root

import (
	"os"

	"github.com/spf13/cobra/doc"

	"github.com/deployctl/deployctl/internal/app"
)

// WriteManPages writes a man page per command into dir (scripts/man).
func WriteManPages(f *app.Factory, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cmd := NewCmdRoot(f)
	cmd.DisableAutoGenTag = true // the same pages for the same source: no date in them
	return doc.GenManTree(cmd, &doc.GenManHeader{Title: "DEPLOYCTL", Section: "1", Source: "deployctl " + app.Version, Manual: "deployctl manual"}, dir)
}
