package backup

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/backup"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/copies"
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
	// Stores says, with backup.storage.copies, in which stores each backup
	// is whole (its manifest and every object): backup id to store names.
	Stores map[string][]string `json:"stores,omitempty"`
	// Unreachable are the stores that could not be read: what they hold
	// is unknown.
	Unreachable []string `json:"unreachable_stores,omitempty"`
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
	cs, withCopies := e.Store.(*copies.Store)
	if withCopies {
		if rep.Stores, err = whereStored(ctx, cs, c.Backups); err != nil {
			return err
		}
		for i, st := range cs.Stores {
			if cs.Unreadable(i) != nil {
				rep.Unreachable = append(rep.Unreachable, st.Name)
			}
		}
	}
	if f.Flags.JSON() {
		return opts.IO.JSON(rep)
	}
	if len(rep.Backups) == 0 {
		opts.IO.Printf("no backups yet: take one with 'deployctl backup create'\n")
		return nil
	}
	if withCopies {
		return renderListStores(opts.IO, rep.Backups, rep.Stores, cs, f.Now())
	}
	return renderList(opts.IO, rep.Backups, f.Now())
}

// whereStored lists every store and names, for each backup, the stores that
// hold its manifest and all its objects, in store order.
func whereStored(ctx context.Context, cs *copies.Store, ms []backup.Manifest) (map[string][]string, error) {
	ls, err := cs.ListCopies(ctx, "")
	if err != nil {
		return nil, err
	}
	holders := map[string][]string{}
	for _, l := range ls {
		holders[l.Name] = l.Stores
	}
	out := map[string][]string{}
	for i := range ms {
		m := &ms[i]
		names := []string{m.ID + "/" + backup.ManifestObject}
		for _, f := range storedObjects(m) {
			names = append(names, f.Object)
		}
		in := []string{}
		for _, st := range cs.Stores {
			whole := true
			for _, n := range names {
				whole = whole && slices.Contains(holders[n], st.Name)
			}
			if whole {
				in = append(in, st.Name)
			}
		}
		out[m.ID] = in
	}
	return out, nil
}

// renderListStores is the table with a stores column: how many stores hold
// each backup and which are missing.
func renderListStores(io *ui.IOStreams, backups []Entry, stores map[string][]string, cs *copies.Store, now time.Time) error {
	tb := io.NewTable("id", "type", "created", "age", "size", "label", "verified", "stores")
	for _, b := range backups {
		in := stores[b.ID]
		col := fmt.Sprintf("%d of %d", len(in), len(cs.Stores))
		var missing, unknown []string
		for i, st := range cs.Stores {
			switch {
			case slices.Contains(in, st.Name):
			case cs.Unreadable(i) != nil:
				unknown = append(unknown, st.Name)
			default:
				missing = append(missing, st.Name)
			}
		}
		var why []string
		if len(missing) > 0 {
			why = append(why, "not in "+strings.Join(missing, ", "))
		}
		if len(unknown) > 0 {
			why = append(why, "cannot read "+strings.Join(unknown, ", "))
		}
		if len(why) > 0 {
			col += " (" + strings.Join(why, "; ") + ")"
		}
		if len(in)+len(unknown) < cs.MinCopies() {
			col = io.Theme().Fail.Render(col + fmt.Sprintf(", below min_copies %d", cs.MinCopies()))
		}
		tb.Row(b.ID, b.Type, b.CreatedAt.UTC().Format(time.RFC3339), ago(now, b.CreatedAt), ui.HumanBytes(b.SizeBytes), b.Label, verified(io, b.Verification, now), col)
	}
	return tb.Render(io.Out)
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
