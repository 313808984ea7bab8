package initcmd

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// gitignorePath is the project's .gitignore, which init creates, or
// completes when the project has one: it is the operator's file, so init
// only appends the lines it lacks and never counts it as a conflict.
const gitignorePath = ".gitignore"

// ignored keeps secrets, database dumps and deployctl's local state out of
// git: .env holds the development secrets, backups/ the dumps of the file
// store (environments/*.yaml, backup.storage.path), .deployctl/ the state
// folder (state.dir) with the lock, the history and the proxy's state.
var ignored = []string{".env", ".env.*", "!.env.example", "backups/", ".deployctl/"}

const gitignoreHeader = "# deployctl: secrets, database dumps and local state stay out of git"

// missingIgnores returns the lines of ignored that the .gitignore in dir
// lacks, and whether the file exists.
func missingIgnores(dir string) ([]string, bool, error) {
	data, err := os.ReadFile(filepath.Join(dir, gitignorePath))
	if os.IsNotExist(err) {
		return ignored, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	have := map[string]bool{}
	for _, l := range strings.Split(string(data), "\n") {
		have[strings.TrimSpace(l)] = true
	}
	var missing []string
	for _, l := range ignored {
		if !have[l] && !have["/"+l] {
			missing = append(missing, l)
		}
	}
	return missing, true, nil
}

// writeIgnores creates the .gitignore, or appends the missing lines to it.
func writeIgnores(dir string, missing []string, exists bool) error {
	if len(missing) == 0 {
		return nil
	}
	path := filepath.Join(dir, gitignorePath)
	prefix := ""
	if exists {
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if len(data) > 0 && !strings.HasSuffix(string(data), "\n") {
			prefix = "\n"
		}
		prefix += "\n"
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, werr := fmt.Fprintf(f, "%s%s\n%s\n", prefix, gitignoreHeader, strings.Join(missing, "\n"))
	if err := f.Close(); werr == nil {
		werr = err
	}
	if werr != nil {
		return fmt.Errorf("write %s: %w", path, werr)
	}
	return nil
}
