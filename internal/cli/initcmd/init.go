// Package initcmd is `deployctl init`: it writes the files of a new
// project (environments, templates, an example migration, .env.example and
// a rollback runbook) from the copies embedded in the binary.
package initcmd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl"
	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
)

// InitOptions are the inputs of `init`.
type InitOptions struct {
	IO     *ui.IOStreams
	Dir    string
	Force  bool
	DryRun bool
	JSON   bool
}

// NewCmdInit is `deployctl init [DIR]`.
func NewCmdInit(f *app.Factory, runF func(*InitOptions) error) *cobra.Command {
	opts := &InitOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "init [DIR]",
		Short: "Write the environments, templates and examples of a new project",
		Long: `Write a new project's deployctl files into DIR (default: the current folder):

  environments/variables.yaml     the schema of the application's variables
  environments/development.yaml   local providers: needs nothing but PostgreSQL
  environments/staging.yaml       Kubernetes
  environments/production.yaml    Kubernetes traffic, AWS Secrets Manager, S3 backups
  templates/                      maintenance page, docker-compose file, Kubernetes manifests
  migrations/00001_create_users.sql   an example goose migration
  .env.example                    development values; copy it to .env
  docs/runbook.md                 a rollback runbook to complete
  .gitignore                      .env, backups/ and .deployctl/ stay out of git

Existing files are never overwritten unless --force is given; an existing
.gitignore gets only the lines it lacks appended; --dry-run lists what
would be written.`,
		Example: `  deployctl init
  deployctl init ./my-api --dry-run
  deployctl init ./my-api --force`,
		GroupID: "release",
		Args:    app.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Dir, opts.DryRun, opts.JSON = ".", f.Flags.DryRun, f.Flags.JSON()
			if len(args) == 1 {
				opts.Dir = args[0]
			}
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return initRun(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Force, "force", false, "overwrite files that already exist")
	return cmd
}

func (o *InitOptions) validate() error {
	if strings.TrimSpace(o.Dir) == "" {
		return app.Usagef("init needs a folder name, or none for the current folder")
	}
	if st, err := os.Stat(o.Dir); err == nil && !st.IsDir() {
		return app.Usagef("%s is a file, not a folder", o.Dir)
	}
	return nil
}

type written struct {
	Path   string   `json:"path"`
	Action string   `json:"action"`          // create | overwrite | append (.gitignore)
	Lines  []string `json:"lines,omitempty"` // appended to .gitignore
}

type initResult struct {
	Dir    string    `json:"dir"`
	DryRun bool      `json:"dry_run"`
	Files  []written `json:"files"`
}

func initRun(o *InitOptions) error {
	files, err := Files()
	if err != nil {
		return err
	}
	res := initResult{Dir: o.Dir, DryRun: o.DryRun}
	var existing []string
	for _, file := range files {
		w := written{Path: file.Path, Action: "create"}
		if _, err := os.Lstat(filepath.Join(o.Dir, filepath.FromSlash(file.Path))); err == nil {
			w.Action = "overwrite"
			existing = append(existing, file.Path)
		}
		res.Files = append(res.Files, w)
	}
	if len(existing) > 0 && !o.Force {
		return app.Usagef("refusing to overwrite %d existing file(s) in %s: %s; pass --force to overwrite them",
			len(existing), o.Dir, strings.Join(existing, ", "))
	}
	missing, exists, err := missingIgnores(o.Dir)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		action := "create"
		if exists {
			action = "append"
		}
		res.Files = append(res.Files, written{Path: gitignorePath, Action: action, Lines: missing})
	}
	if !o.DryRun {
		for _, file := range files {
			if err := write(o.Dir, file); err != nil {
				return err
			}
		}
		if err := writeIgnores(o.Dir, missing, exists); err != nil {
			return err
		}
	}
	return render(o, res)
}

// write puts one file in place atomically: a reader never sees half of it.
func write(dir string, file File) error {
	data, err := fs.ReadFile(deployctl.Assets, file.Src)
	if err != nil {
		return err
	}
	dst := filepath.Join(dir, filepath.FromSlash(file.Path))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(dst), err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".init-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr, os.Chmod(tmp.Name(), 0o644)); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", dst, err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return nil
}

func render(o *InitOptions, res initResult) error {
	if o.JSON {
		return o.IO.JSON(res)
	}
	verb := map[string]string{"create": "created", "overwrite": "overwrote", "append": "appended to"}
	if o.DryRun {
		verb = map[string]string{"create": "would create", "overwrite": "would overwrite", "append": "would append to"}
	}
	for _, f := range res.Files {
		line := fmt.Sprintf("%-15s %s", verb[f.Action], filepath.Join(o.Dir, filepath.FromSlash(f.Path)))
		if f.Action == "append" {
			line += " (" + strings.Join(f.Lines, " ") + ")"
		}
		fmt.Fprintln(o.IO.Out, line)
	}
	if !o.DryRun {
		o.IO.Printf("\nnext: cd %s && cp .env.example .env && deployctl env validate\n", o.Dir)
	}
	return nil
}
