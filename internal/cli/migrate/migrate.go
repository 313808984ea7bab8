// Package migrate is the `deployctl migrate` command group: thin commands
// over pkg/migrate.
package migrate

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/pkg/migrate"
	"github.com/deployctl/deployctl/pkg/provider"
)

// DBFlags are the flags every migrate command shares.
type DBFlags struct {
	DatabaseURL string
	Dir         string
}

// NewCmdMigrate returns the migrate command group.
func NewCmdMigrate(f *app.Factory) *cobra.Command {
	flags := &DBFlags{}
	cmd := &cobra.Command{
		Use:     "migrate <command>",
		Short:   "Migrate the database: safe under concurrency, failure and edits",
		GroupID: "release",
		Long: `Apply the SQL migrations of the migrations folder with goose, under a database
lock, with a checksum of every applied file, a dirty mark after a failed
migration that ran outside a transaction, a linter and rehearsals.

The database is --database-url, else database.url, else the variable named by
database.url_from (DATABASE_URL) from the environment's variables. The folder
is --dir, else migrations.dir of the environment.`,
		Example: `  deployctl migrate plan
  deployctl migrate up
  deployctl migrate status -o json
  deployctl migrate create add_users_email`,
	}
	addDBFlags(cmd, flags)
	cmd.AddCommand(
		NewCmdStatus(f, flags, nil),
		NewCmdUp(f, flags, nil),
		NewCmdDown(f, flags, nil),
		NewCmdRedo(f, flags, nil),
		NewCmdCreate(f, flags, nil),
		NewCmdPlan(f, flags, nil),
		NewCmdValidate(f, flags, nil),
		NewCmdRehearse(f, flags, nil),
		NewCmdResolve(f, flags, nil),
	)
	return cmd
}

func addDBFlags(cmd *cobra.Command, flags *DBFlags) {
	pf := cmd.PersistentFlags()
	pf.StringVar(&flags.DatabaseURL, "database-url", "", "database to migrate (overrides the environment's DATABASE_URL)")
	pf.StringVar(&flags.Dir, "dir", "", "migrations folder (default: migrations.dir of the environment)")
}

// dir resolves the migrations folder.
func dir(f *app.Factory, fl *DBFlags) (string, error) {
	if fl.Dir != "" {
		return fl.Dir, nil
	}
	cfg, err := f.Config()
	if err != nil {
		return "", err
	}
	return cfg.Path(cfg.Migrations.Dir), nil
}

// load reads the migrations folder; a bad folder or file is a usage error.
func load(f *app.Factory, fl *DBFlags) (string, []migrate.Migration, error) {
	d, err := dir(f, fl)
	if err != nil {
		return "", nil, err
	}
	migs, err := migrate.Load(d)
	var se *migrate.SourceError
	if errors.As(err, &se) {
		return "", nil, &app.UsageError{Err: err}
	}
	return d, migs, err
}

// open connects to the database, naming this process in pg_stat_activity.
func open(ctx context.Context, f *app.Factory, fl *DBFlags, command string, opts ...migrate.OpenOption) (*migrate.DB, error) {
	url, err := f.DatabaseURL(ctx, fl.DatabaseURL)
	if err != nil {
		return nil, err
	}
	return migrate.Open(ctx, url, migrate.AppName(f.Holder(command)), opts...)
}

// engine loads the folder, connects and builds the engine for command.
func engine(ctx context.Context, f *app.Factory, fl *DBFlags, command string, lockTimeout time.Duration) (*migrate.Engine, error) {
	d, migs, err := load(f, fl)
	if err != nil {
		return nil, err
	}
	guard, err := f.Guard(ctx)
	if err != nil {
		return nil, err
	}
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	if cfg.Migrations.StatementLockTimeout < 0 {
		return nil, app.Usagef("invalid %s %s: use a duration such as 10s, or 0 for no limit", migrate.StatementLockTimeoutKey, cfg.Migrations.StatementLockTimeout)
	}
	db, err := open(ctx, f, fl, command, migrate.WithLockTimeout(cfg.Migrations.StatementLockTimeout))
	if err != nil {
		return nil, err
	}
	return &migrate.Engine{
		DB: db, Dir: d, Migrations: migs, LockTimeout: lockTimeout, Now: f.Now,
		Lock: guard, History: f.Recorder(),
		Notef: func(format string, a ...any) { f.IO.Printf(format, a...) },
		OnWait: func(h provider.Holder) {
			f.IO.Printf("waiting up to %s for the migration lock held by %s (pid %d on %s, running %q) since %s\n",
				lockTimeout, h.Actor, h.PID, h.Host, h.Command, h.Since.UTC().Format(time.RFC3339))
		},
	}, nil
}

// versions completes a migration version from the migrations folder, with
// its file's name; nothing when the folder cannot be read.
func versions(f *app.Factory, fl *DBFlags, prefix string) []string {
	d, err := dir(f, fl)
	if err != nil {
		return nil
	}
	migs, err := migrate.Load(d)
	if err != nil {
		return nil
	}
	var out []string
	for _, m := range migs {
		if v := strconv.FormatInt(m.Version, 10); strings.HasPrefix(v, prefix) {
			out = append(out, v+"\t"+m.File)
		}
	}
	return out
}

// completeVersions completes --to with the migrations' versions.
func completeVersions(cmd *cobra.Command, f *app.Factory, fl *DBFlags) {
	_ = cmd.RegisterFlagCompletionFunc("to", func(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
		return versions(f, fl, prefix), cobra.ShellCompDirectiveNoFileComp
	})
}
