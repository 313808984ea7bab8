// Package wal is the wal command group: continuous WAL archiving into the
// environment's backup storage.
package wal

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/pkg/backup"
	"github.com/deployctl/deployctl/pkg/wal"
)

// NewCmdWAL returns the wal command group.
func NewCmdWAL(f *app.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "wal <command>",
		Short:   "Archive PostgreSQL's WAL continuously, check the archive",
		GroupID: "operate",
		Long: `Continuous WAL archiving into the storage of backup.storage (under wal/<timeline>/),
compressed with zstd, encrypted for backup.encryption.recipients when set, with
the sha256 of every file checked on fetch. With base backups ('backup create
--type base') it restores to any point in time ('backup restore --type base').

PostgreSQL runs the commands from its data folder, so name the config folder
with an absolute path (postgresql.conf):

  archive_mode = on
  archive_command = 'deployctl --config-dir /srv/app/environments --env production wal push %p'
  archive_timeout = 60s
  restore_command = 'deployctl --config-dir /srv/app/environments --env production wal fetch %f %p'`,
		Example: `  deployctl wal status
  deployctl wal verify --max-age 5m`,
	}
	cmd.AddCommand(
		NewCmdPush(f, nil),
		NewCmdFetch(f, nil),
		NewCmdStatus(f, nil),
		NewCmdVerify(f, nil),
	)
	return cmd
}

// archive builds the environment's WAL archive. Identities are loaded only
// when decrypt is set: push needs the public keys alone.
func archive(ctx context.Context, f *app.Factory, decrypt bool) (*wal.Archive, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	st, err := f.BackupStore(ctx)
	if err != nil {
		return nil, err
	}
	a := &wal.Archive{Store: st, StoreName: f.StorageName(), Now: f.Now, Notef: f.Notef}
	if a.Recipients, err = backup.ParseRecipients(cfg.Backup.Encryption.Recipients); err != nil {
		return nil, err
	}
	if decrypt && cfg.Backup.Encryption.IdentityFile != "" {
		if a.Identities, err = backup.LoadIdentities(cfg.Path(cfg.Backup.Encryption.IdentityFile)); err != nil {
			return nil, err
		}
	}
	return a, nil
}
