package backup

import (
	"context"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/backup"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/timeutil"
)

// ListOptions are the options of backup list.
type ListOptions struct {
	IO      *ui.IOStreams
	Factory *app.Factory
}

// ListReport is the JSON of backup list.
type ListReport struct {
	Backups []Entry `json:"backups"`
	// HalfRestored are the targets whose newest restore did not finish.
	HalfRestored []backup.HalfRestored `json:"half_restored,omitempty"`
}

// NewCmdList returns backup list.
func NewCmdList(f *app.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IO, Factory: f}
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the backups, newest first, with their last verification",
		Long: `List the complete backups of the storage (those with a manifest), newest first:
id, type (logical or base), time, age, size and the last verification. Folders without a manifest (an
interrupted create) are counted on stderr; 'backup prune' removes them. A target
that a restore left half-done (deployctl killed, pg_restore failed) is named on
stderr from the history until a restore into it finishes.`,
		Example: "  deployctl backup list\n  deployctl backup list -o json | jq -r '.backups[0].id'",
		Args:    app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
}

func listRun(ctx context.Context, opts *ListOptions) error {
	f := opts.Factory
	e, _, err := engine(ctx, f)
	if err != nil {
		return err
	}
	c, err := backup.Scan(ctx, e.Store)
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(c.Broken))
	for id := range c.Broken {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		opts.IO.Warnf("backup %s is not listed: %s", id, c.Broken[id])
	}
	if len(c.Orphans) > 0 {
		opts.IO.Printf("note: %d incomplete backup folder(s) without a manifest; 'deployctl backup prune' removes them\n", len(c.Orphans))
	}
	rep := ListReport{Backups: []Entry{}, HalfRestored: halfRestored(ctx, f)}
	for _, h := range rep.HalfRestored {
		opts.IO.Warnf("%s", h)
	}
	for _, m := range c.Backups {
		rep.Backups = append(rep.Backups, entry(m))
	}
	if sc, ok := e.Store.(provider.StoreChecker); ok && len(c.Backups) == 0 {
		if err := sc.CheckStore(ctx); err != nil { // not "no backups yet": there is no store to look in
			opts.IO.Warnf("%v", err)
		}
	}
	if f.Flags.JSON() {
		return opts.IO.JSON(rep)
	}
	if len(rep.Backups) == 0 {
		opts.IO.Printf("no backups yet: take one with 'deployctl backup create'\n")
		return nil
	}
	return renderList(opts.IO, rep.Backups, f.Now())
}

// halfRestored reads the history for targets that a restore left
// half-done; a history that cannot be read is a warning.
func halfRestored(ctx context.Context, f *app.Factory) []backup.HalfRestored {
	log, err := f.History(ctx)
	var hs []backup.HalfRestored
	if err == nil {
		hs, err = backup.FindHalfRestored(ctx, log)
	}
	if err != nil {
		f.IO.Warnf("cannot read the history for unfinished restores: %v", err)
	}
	return hs
}

func renderList(io *ui.IOStreams, backups []Entry, now time.Time) error {
	tb := io.NewTable("id", "type", "created", "age", "size", "label", "verified")
	for _, b := range backups {
		tb.Row(b.ID, b.Type, b.CreatedAt.UTC().Format(time.RFC3339), ago(now, b.CreatedAt), ui.HumanBytes(b.SizeBytes), b.Label, verified(io, b.Verification, now))
	}
	return tb.Render(io.Out)
}

func ago(now, t time.Time) string {
	d := now.Sub(t)
	if d < time.Minute {
		return "just now"
	}
	return timeutil.FormatDuration(d.Truncate(time.Minute))
}

func verified(io *ui.IOStreams, v *backup.Verification, now time.Time) string {
	th := io.Theme()
	switch {
	case v == nil:
		return "never"
	case v.OK:
		return th.OK.Render("ok") + " (" + v.Level + ", " + since(now, v.At) + ")"
	}
	return th.Fail.Render("FAILED") + " (" + v.Level + ", " + since(now, v.At) + ")"
}

// since is "3h ago" or "just now".
func since(now, t time.Time) string {
	if a := ago(now, t); a != "just now" {
		return a + " ago"
	}
	return "just now"
}
