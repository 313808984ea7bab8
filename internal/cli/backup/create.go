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
is written last. Prints the new backup's id (its entry with -o json).`,
		Example: "  deployctl backup create\n  deployctl backup create --label before-1.4 -o json\n  id=$(deployctl backup create) && deployctl backup verify \"$id\"",
		Args:    app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return createRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Label, "label", "", "a note kept in the manifest, e.g. before-1.4")
	return cmd
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
		opts.IO.Printf("dry run: would back up %s to the %s storage\n", postgres.Redact(url), cfg.Backup.Storage.Provider)
		return nil
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
