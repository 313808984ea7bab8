package migrate

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/migrate"
	"github.com/deployctl/deployctl/pkg/provider"
)

// StatusOptions are the options of migrate status.
type StatusOptions struct {
	IO      *ui.IOStreams
	Factory *app.Factory
	Flags   *DBFlags
}

// StatusReport is the JSON of migrate status.
type StatusReport struct {
	Database   string              `json:"database"`
	Version    int64               `json:"version"`
	Pending    int                 `json:"pending"`
	Changed    int                 `json:"changed"`
	Dirty      int                 `json:"dirty"`
	Migrations []migrate.StatusRow `json:"migrations"`
	// LockHolder is who runs a migration right now, null when nobody.
	LockHolder *provider.Holder `json:"lock_holder"`
	// Orphans are sessions of a migrate command that stopped (killed) while
	// PostgreSQL still runs their statement.
	Orphans []migrate.Orphan `json:"orphans"`
}

// NewCmdStatus returns migrate status.
func NewCmdStatus(f *app.Factory, fl *DBFlags, runF func(*StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{IO: f.IO, Factory: f, Flags: fl}
	return &cobra.Command{
		Use:   "status",
		Short: "Show applied, pending, dirty and edited migrations",
		Long: `Show every migration: applied (with its checksum check), pending, dirty (failed
outside a transaction), or applied with its file gone; who runs a migration
now; and sessions a killed migrate command left running in the server
(orphans), with how to end them. Reads only; takes no lock.`,
		Example: "  deployctl migrate status\n  deployctl migrate status -o json --database-url postgres://app@db/app",
		Args:    app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return statusRun(cmd.Context(), opts)
		},
	}
}

func statusRun(ctx context.Context, opts *StatusOptions) error {
	f := opts.Factory
	_, migs, err := load(f, opts.Flags)
	if err != nil {
		return err
	}
	db, err := open(ctx, f, opts.Flags, "migrate status")
	if err != nil {
		return err
	}
	defer db.Close()
	rows, st, err := migrate.Status(ctx, db, migs)
	if err != nil {
		return err
	}
	rep := StatusReport{Database: db.Name(), Version: st.Current(), Migrations: rows}
	if rep.LockHolder, err = db.Holder(ctx); err != nil {
		return err
	}
	if rep.Orphans, err = db.Orphans(ctx); err != nil {
		return err
	}
	if rep.Orphans == nil {
		rep.Orphans = []migrate.Orphan{}
	}
	for _, o := range rep.Orphans {
		next := "the next 'deployctl migrate up' ends it (its transaction cannot commit)"
		if len(st.Dirty()) > 0 {
			next = "it may be a NO TRANSACTION statement that can still finish: wait for it"
		}
		f.IO.Warnf("orphaned migration session: %s; it holds its locks until it ends: %s, or end it now with SELECT pg_terminate_backend(%d);", o, next, o.PID)
	}
	for _, r := range rows {
		switch {
		case r.State == "pending":
			rep.Pending++
		case r.State == "dirty":
			rep.Dirty++
		case r.Checksum == "changed":
			rep.Changed++
		}
	}
	if f.Flags.JSON() {
		return opts.IO.JSON(rep)
	}
	return renderStatus(opts.IO, rep)
}

func renderStatus(io *ui.IOStreams, rep StatusReport) error {
	th := io.Theme()
	t := io.NewTable("version", "file", "state", "applied at", "checksum", "note")
	for _, r := range rep.Migrations {
		at := ""
		if r.AppliedAt != nil {
			at = r.AppliedAt.Format(time.RFC3339)
		}
		t.Row(fmt.Sprint(r.Version), r.File, stateWord(th, r.State), at, th.Status(checkWord(r.Checksum)), r.Note)
	}
	if err := t.Render(io.Out); err != nil {
		return err
	}
	io.Printf("database %s at version %d: %d pending, %d edited, %d dirty\n", rep.Database, rep.Version, rep.Pending, rep.Changed, rep.Dirty)
	if h := rep.LockHolder; h != nil {
		io.Printf("a migration is running: %s (pid %d on %s, running %q) since %s\n", h.Actor, h.PID, h.Host, h.Command, h.Since.UTC().Format(time.RFC3339))
	}
	return nil
}

func stateWord(th *ui.Theme, s string) string {
	switch s {
	case "applied":
		return th.OK.Render(s)
	case "pending":
		return th.Warn.Render(s)
	}
	return th.Fail.Render(s)
}

func checkWord(s string) string {
	if s == "unrecorded" {
		return "unknown"
	}
	return s
}
