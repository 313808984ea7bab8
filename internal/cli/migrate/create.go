package migrate

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/migrate"
)

// CreateOptions are the options of migrate create.
type CreateOptions struct {
	IO      *ui.IOStreams
	Factory *app.Factory
	Flags   *DBFlags
	Name    string
}

// NewCmdCreate returns migrate create.
func NewCmdCreate(f *app.Factory, fl *DBFlags, runF func(*CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{IO: f.IO, Factory: f, Flags: fl}
	return &cobra.Command{
		Use:   "create NAME",
		Short: "Write a new, empty migration file",
		Long: `Write NAME as a new SQL migration with up and down sections in the migrations
folder (created if missing). Versions are sequential when the folder numbers
its files 00001, 00002…, else UTC timestamps. Prints the file's path.`,
		Example: "  deployctl migrate create add_users_email\n  deployctl migrate create add_users_email --dir db/migrations",
		Args:    app.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(opts)
			}
			return createRun(opts)
		},
	}
}

func createRun(opts *CreateOptions) error {
	f := opts.Factory
	d, err := dir(f, opts.Flags)
	if err != nil {
		return err
	}
	existing, err := migrate.Load(d)
	var se *migrate.SourceError
	if err != nil && !(errors.As(err, &se) && isNotExist(d)) {
		return &app.UsageError{Err: err}
	}
	if f.Flags.DryRun {
		path, _, err := migrate.NewFile(d, opts.Name, f.Now(), existing)
		if err != nil {
			return &app.UsageError{Err: err}
		}
		opts.IO.Printf("dry run: would write %s:\n%s", path, migrate.Template)
		return nil
	}
	path, err := migrate.Create(d, opts.Name, f.Now(), existing)
	if errors.As(err, &se) {
		return &app.UsageError{Err: err}
	}
	if err != nil {
		return fmt.Errorf("create migration: %w", err)
	}
	if f.Flags.JSON() {
		return opts.IO.JSON(map[string]string{"file": path})
	}
	fmt.Fprintln(opts.IO.Out, path)
	return nil
}

func isNotExist(d string) bool {
	_, err := os.Stat(d)
	return errors.Is(err, os.ErrNotExist)
}
