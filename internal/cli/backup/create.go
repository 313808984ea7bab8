package backup

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/backup"
	"github.com/deployctl/deployctl/pkg/postgres"
)

// CreateOptions are the options of backup create.
type CreateOptions struct {
	IO      *ui.IOStreams
	Factory *app.Factory
	Flags   *DBFlags
	Label   string
	Type    string // logical (default) or base
}

// NewCmdCreate returns backup create.
func NewCmdCreate(f *app.Factory, fl *DBFlags, runF func(*CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{IO: f.IO, Factory: f, Flags: fl}
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Take a consistent backup of the database",
		Long: `Dump the database in one snapshot (pg_dump custom format) streamed through zstd,
optional age encryption and sha256 into the storage, with no temporary file and
bounded memory. Row counts per table are taken in the same snapshot; the manifest
is written last. Prints the new backup's id (its entry with -o json).

--type base takes a physical base backup of the whole cluster instead, the
start of a point-in-time restore ('backup restore --type base'): pg_basebackup
(tar format, the WAL to make it consistent included, fast checkpoint) streamed
through zstd, optional age and sha256 into the storage, PostgreSQL's own
backup_manifest beside it, and a manifest with the start and stop LSN and time,
timeline, server version and system identifier written last. The role needs
REPLICATION (and pg_hba.conf a replication line); pg_basebackup dies with
deployctl.`,
		Example: "  deployctl backup create\n  deployctl backup create --label before-1.4 -o json\n  deployctl backup create --type base\n  id=$(deployctl backup create) && deployctl backup verify \"$id\"",
		Args:    app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := validType(opts.Type); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return createRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Label, "label", "", "a note kept in the manifest, e.g. before-1.4")
	cmd.Flags().StringVar(&opts.Type, "type", backup.TypeLogical, "logical (pg_dump of the database) or base (pg_basebackup of the cluster, for point-in-time restore)")
	return cmd
}

// validType refuses a --type other than logical or base.
func validType(t string) error {
	if t != backup.TypeLogical && t != backup.TypeBase {
		return app.Usagef("invalid --type %q: use logical or base", t)
	}
	return nil
}

func createRun(ctx context.Context, opts *CreateOptions) error {
	f := opts.Factory
	e, cfg, err := engine(ctx, f)
	if err != nil {
		return err
	}
	url, err := f.DatabaseURL(ctx, opts.Flags.DatabaseURL)
	if err != nil {
		return err
	}
	if f.Flags.DryRun {
		what := postgres.Redact(url)
		if opts.Type == backup.TypeBase {
			what = "the cluster of " + what + " (base backup)"
		}
		opts.IO.Printf("dry run: would back up %s to the %s storage\n", what, cfg.Backup.Storage.Provider)
		return nil
	}
	if opts.Type == backup.TypeBase {
		return createBase(ctx, opts, e, url, cfg.Backup.Encryption.Recipients)
	}
	m, err := e.Create(ctx, backup.CreateOptions{DatabaseURL: url, Label: opts.Label, Recipients: cfg.Backup.Encryption.Recipients})
	if err != nil {
		return err
	}
	if f.Flags.JSON() {
		return opts.IO.JSON(entry(*m))
	}
	fmt.Fprintln(opts.IO.Out, m.ID)
	opts.IO.Printf("backup %s: %s stored (%s dumped), %d tables, %d rows, %s\n", m.ID, ui.HumanBytes(m.SizeBytes),
		ui.HumanBytes(m.DumpBytes), len(m.Tables), m.Rows(), (time.Duration(m.DurationMS) * time.Millisecond).Round(100*time.Millisecond))
	return nil
}

func createBase(ctx context.Context, opts *CreateOptions, e *backup.Engine, url string, recipients []string) error {
	m, err := e.CreateBase(ctx, backup.BaseOptions{DatabaseURL: url, Label: opts.Label, Recipients: recipients})
	if err != nil {
		return err
	}
	if opts.Factory.Flags.JSON() {
		return opts.IO.JSON(entry(*m))
	}
	fmt.Fprintln(opts.IO.Out, m.ID)
	opts.IO.Printf("base backup %s: %s stored (%s of data and WAL), LSN %s to %s on timeline %d, %s\n", m.ID, ui.HumanBytes(m.SizeBytes),
		ui.HumanBytes(m.Base.DataBytes), m.Base.StartLSN, m.Base.StopLSN, m.Base.Timeline, (time.Duration(m.DurationMS) * time.Millisecond).Round(100*time.Millisecond))
	return nil
}
