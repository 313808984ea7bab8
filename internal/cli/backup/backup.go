// Package backup is the `deployctl backup` command group: thin commands
// over pkg/backup.
package backup

import (
	"context"
	"fmt"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/config"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/backup"
)

// DBFlags are the flags every backup command shares.
type DBFlags struct {
	DatabaseURL string
}

// NewCmdBackup returns the backup command group.
func NewCmdBackup(f *app.Factory) *cobra.Command {
	fl := &DBFlags{}
	cmd := &cobra.Command{
		Use:     "backup <command>",
		Short:   "Take, list, prove, restore and prune PostgreSQL backups",
		GroupID: "operate",
		Long: `Logical backups of the environment's PostgreSQL database in the storage of
backup.storage: a folder (provider file) or an S3 bucket (provider s3).

A backup is one consistent snapshot (pg_dump --snapshot, row counts taken in the
same snapshot), compressed with zstd, optionally encrypted for the age keys of
backup.encryption.recipients, checksummed on the way, and described by a
manifest written last: an interrupted backup never shows up as one.
'backup verify' proves a backup restores; run it from cron:

  deployctl backup verify latest --max-age 26h

'backup create --type base' takes a physical base backup of the whole cluster
(pg_basebackup) instead; with the WAL archive ('deployctl wal') 'backup restore
--type base --to-time T --data-dir DIR' builds a data folder that recovers to
any moment after it, and 'backup verify --type base' proves it by recovering a
scratch copy.

The database is --database-url, else database.url, else the variable named by
database.url_from (DATABASE_URL) from the environment's variables.`,
		Example: `  deployctl backup create --label before-1.4
  deployctl backup list
  deployctl backup verify latest --max-age 26h
  deployctl backup restore latest --target-url postgres://app@localhost/app_copy
  deployctl backup prune --apply`,
	}
	cmd.PersistentFlags().StringVar(&fl.DatabaseURL, "database-url", "", "database to back up (overrides the environment's DATABASE_URL)")
	cmd.AddCommand(
		NewCmdCreate(f, fl, nil),
		NewCmdList(f, nil),
		NewCmdVerify(f, fl, nil),
		NewCmdRestore(f, fl, nil),
		NewCmdPrune(f, nil),
	)
	return cmd
}

// engine builds the backup engine on the environment's storage.
func engine(ctx context.Context, f *app.Factory) (*backup.Engine, *config.Loaded, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, nil, err
	}
	st, err := f.BackupStore(ctx)
	if err != nil {
		return nil, nil, err
	}
	e := &backup.Engine{Store: st, Now: f.Now, History: f.Recorder(), Notef: f.Notef,
		Progress: func(label string, total int64) backup.Meter { return f.IO.NewProgress(label, total) }}
	return e, cfg, nil
}

// identities loads the age identities to read encrypted backups, if any.
func identities(cfg *config.Loaded, m *backup.Manifest) ([]age.Identity, error) {
	if m.Encryption == nil || cfg.Backup.Encryption.IdentityFile == "" {
		return nil, nil
	}
	return backup.LoadIdentities(cfg.Path(cfg.Backup.Encryption.IdentityFile))
}

// Entry is one backup in the JSON of list and create (CLI.md).
type Entry = backup.Summary

func entry(m backup.Manifest) Entry { return m.Summary() }

// backupIDs completes a backup id (and latest), newest first, with its
// time and size; nothing when the store cannot be read.
func backupIDs(ctx context.Context, f *app.Factory, args []string, prefix string) []string {
	if len(args) > 0 {
		return nil
	}
	var out []string
	if strings.HasPrefix("latest", prefix) {
		out = append(out, "latest\tthe newest backup")
	}
	e, _, err := engine(ctx, f)
	if err != nil {
		return out
	}
	c, err := backup.Scan(ctx, e.Store)
	if err != nil {
		return out
	}
	for _, m := range c.Backups {
		if strings.HasPrefix(m.ID, prefix) {
			out = append(out, fmt.Sprintf("%s\t%s, %s", m.ID, m.CreatedAt.UTC().Format(time.RFC3339), ui.HumanBytes(m.SizeBytes)))
		}
	}
	return out
}
