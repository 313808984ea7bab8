package migrate

import (
	"context"
	"errors"
	"fmt"

	"filippo.io/age"
	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/backup"
	"github.com/deployctl/deployctl/pkg/migrate"
	"github.com/deployctl/deployctl/pkg/provider"
)

// RehearseOptions are the options of migrate rehearse.
type RehearseOptions struct {
	IO         *ui.IOStreams
	Factory    *app.Factory
	Flags      *DBFlags
	FromBackup string // "", "latest" or a backup id
}

// NewCmdRehearse returns migrate rehearse.
func NewCmdRehearse(f *app.Factory, fl *DBFlags, runF func(*RehearseOptions) error) *cobra.Command {
	opts := &RehearseOptions{IO: f.IO, Factory: f, Flags: fl}
	cmd := &cobra.Command{
		Use:   "rehearse [--from-backup latest|ID]",
		Short: "Run up, down, up of the pending migrations on a scratch copy",
		Long: `Create a scratch database on the same server, fill it with a copy of the
database (pg_dump | pg_restore, without owners and privileges; the role needs
CREATEDB), or with --from-backup the newest verified backup (latest) or the
backup ID, then run up, down and up again of every pending migration, timing
each. After up and down the schema (pg_dump --schema-only, normalised,
without goose's and deployctl's tables) must be the schema before up: else
the rehearsal fails naming the migration, with a diff (schema_diff).
Migrations without a down section, or marked irreversible, are run up only
(down_ms and up_again_ms are -1). The scratch database is dropped at the
end, also after a failure or Ctrl-C. The database itself is never changed.

The result is saved in the environment's state under
migrate.rehearsal.<set hash>, the hash of the pending migrations' versions and
contents, for 'deployctl checklist'. Exit 1 when a step failed.`,
		Example: "  deployctl migrate rehearse\n  deployctl migrate rehearse --from-backup latest -o json",
		Args:    app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return rehearseRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.FromBackup, "from-backup", "", "rehearse on a restored backup: latest (newest verified) or a backup ID")
	return cmd
}

func rehearseRun(ctx context.Context, opts *RehearseOptions) error {
	f := opts.Factory
	d, migs, err := load(f, opts.Flags)
	if err != nil {
		return err
	}
	url, err := f.DatabaseURL(ctx, opts.Flags.DatabaseURL)
	if err != nil {
		return err
	}
	store, err := f.State(ctx)
	if err != nil {
		return err
	}
	r := &migrate.Rehearser{URL: url, Dir: d, Migrations: migs, Now: f.Now,
		AppName: migrate.AppName(f.Holder("migrate rehearse")), History: f.Recorder(),
		Notef: func(format string, a ...any) { f.IO.Printf(format, a...) }}
	if opts.FromBackup != "" {
		if r.Fill, err = fromBackup(ctx, f, opts.FromBackup); err != nil {
			return err
		}
	}
	reh, err := r.Run(ctx)
	if err != nil {
		return err
	}
	if err := migrate.SaveRehearsal(ctx, store, reh); err != nil {
		return fmt.Errorf("save the rehearsal: %w", err)
	}
	if err := renderRehearsal(opts.IO, f.Flags.JSON(), reh); err != nil {
		return err
	}
	if !reh.OK {
		return app.ErrFailed
	}
	return nil
}

// fromBackup restores a backup into the scratch database: latest is the
// newest backup whose last verification passed.
func fromBackup(ctx context.Context, f *app.Factory, ref string) (func(context.Context, string) error, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	st, err := f.BackupStore(ctx)
	if err != nil {
		return nil, err
	}
	m, err := pickBackup(ctx, st, ref)
	if err != nil {
		return nil, err
	}
	var ids []age.Identity
	if m.Encryption != nil && cfg.Backup.Encryption.IdentityFile != "" {
		if ids, err = backup.LoadIdentities(cfg.Path(cfg.Backup.Encryption.IdentityFile)); err != nil {
			return nil, err
		}
	}
	eng := &backup.Engine{Store: st, Now: f.Now}
	f.IO.Printf("restoring backup %s (%s) into the scratch database\n", m.ID, m.CreatedAt.UTC().Format("2006-01-02T15:04:05Z"))
	return func(ctx context.Context, scratch string) error {
		res, err := eng.Restore(ctx, m, backup.RestoreOptions{TargetURL: scratch, Identities: ids, Jobs: 1})
		if err != nil {
			return fmt.Errorf("restore backup %s: %w", m.ID, err)
		}
		if len(res.Problems) > 0 {
			return fmt.Errorf("restore backup %s: %v", m.ID, res.Problems)
		}
		return nil
	}, nil
}

func pickBackup(ctx context.Context, st provider.BackupStore, ref string) (*backup.Manifest, error) {
	if ref != "latest" {
		m, err := backup.Load(ctx, st, ref)
		if err == nil && m.Kind() == backup.TypeBase {
			return nil, fmt.Errorf("backup %s is a base backup (a physical copy of the cluster): a rehearsal restores a logical one; pass --from-backup with a logical backup (deployctl backup list shows the type)", ref)
		}
		return m, err
	}
	all, err := backup.List(ctx, st)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].Kind() == backup.TypeBase {
			continue // physical: not restorable into a scratch database
		}
		if v := all[i].Verification; v != nil && v.OK {
			return &all[i], nil
		}
	}
	return nil, errors.New("no verified logical backup to rehearse on: run 'deployctl backup verify latest --type logical', or pass --from-backup ID")
}

func renderRehearsal(io *ui.IOStreams, asJSON bool, reh *migrate.Rehearsal) error {
	if asJSON {
		return io.JSON(reh)
	}
	ms := func(v int64) string {
		if v < 0 {
			return "-"
		}
		return fmt.Sprintf("%dms", v)
	}
	if len(reh.Migrations) > 0 {
		t := io.NewTable("version", "file", "up", "down", "up again")
		for _, m := range reh.Migrations {
			t.Row(fmt.Sprint(m.Version), m.File, ms(m.UpMS), ms(m.DownMS), ms(m.UpAgainMS))
		}
		if err := t.Render(io.Out); err != nil {
			return err
		}
	}
	th := io.Theme()
	if !reh.OK {
		io.Printf("%s: rehearsal of set %s failed:\n%s\n", th.Fail.Render("failed"), short(reh.SetHash), reh.Error)
		return nil
	}
	if len(reh.Migrations) == 0 {
		io.Printf("%s: nothing pending, nothing to rehearse (set %s)\n", th.OK.Render("ok"), short(reh.SetHash))
		return nil
	}
	io.Printf("%s: %d pending migration(s) rehearsed on a copy of %s (set %s)\n", th.OK.Render("ok"), len(reh.Migrations), reh.Database, short(reh.SetHash))
	return nil
}
