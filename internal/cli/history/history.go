// Package history is `deployctl history`: the environment's audit trail of
// every changing command (rollout, maintenance, migrate, backup restore and
// prune, checklist runs), with filters.
package history

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/timeutil"
)

// Options are the options of history.
type Options struct {
	IO      *ui.IOStreams
	Factory *app.Factory
	Since   string
	Command string
	Limit   int
	Wide    bool

	since time.Time
}

// Report is the JSON of history: entries oldest first.
type Report struct {
	Env     string           `json:"env"`
	Entries []provider.Entry `json:"entries"`
}

// NewCmdHistory returns the history command.
func NewCmdHistory(f *app.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:     "history",
		Short:   "Show the audit trail of every changing command",
		GroupID: "operate",
		Long: `Show who changed what in the environment and when: every rollout, maintenance
switch, migration, backup restore or prune and checklist run, with the actor
($DEPLOYCTL_ACTOR, else the OS user), the state before and after, the reason
(--reason) and the result. Oldest first, one line per entry: the change in a
few words ("weights 100/0 → 90/10", "maintenance on until 2026-12-03 18:30",
"version 2 → 3") and the reason cut to fit; --wide shows the recorded
before and after and the whole reason, -o json everything.`,
		Example: `  deployctl history -e production --since 24h
  deployctl history --command rollout --since 2026-11-01
  deployctl history --command "migrate up" -o json | jq '.entries[] | select(.result != "ok")'`,
		Args: app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o := f.Flags.Output; o != "" && o != "table" && o != "json" {
				return app.Usagef("invalid --output %q: history prints table or json", f.Flags.Output)
			}
			if err := opts.validate(f.Now()); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Since, "since", "", "only entries since TIME (RFC 3339 or a date) or DURATION ago (24h, 7d)")
	cmd.Flags().StringVar(&opts.Command, "command", "", `only commands starting with PREFIX ("rollout", "migrate up")`)
	cmd.Flags().IntVar(&opts.Limit, "limit", 0, "only the newest N entries (0: all)")
	cmd.Flags().BoolVar(&opts.Wide, "wide", false, "show the recorded before and after and the whole reason")
	return cmd
}

func (o *Options) validate(now time.Time) error {
	if o.Limit < 0 {
		return app.Usagef("invalid --limit %d: give 0 (all) or more", o.Limit)
	}
	if o.Since == "" {
		return nil
	}
	t, err := parseSince(o.Since, now)
	if err != nil {
		return app.Usagef("invalid --since %q: give a duration ago (24h, 7d), a date (2026-11-01) or an RFC 3339 time", o.Since)
	}
	o.since = t
	return nil
}

// parseSince reads a point in the past: a duration ago, a date, a time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := timeutil.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, s)
}

func run(ctx context.Context, opts *Options) error {
	f := opts.Factory
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	h, err := f.History(ctx)
	if err != nil {
		return err
	}
	entries, err := h.List(ctx, provider.Filter{Since: opts.since, Command: strings.TrimSpace(opts.Command), Limit: opts.Limit})
	if err != nil {
		return err
	}
	if entries == nil {
		entries = []provider.Entry{}
	}
	if f.Flags.JSON() {
		return opts.IO.JSON(Report{Env: cfg.Env, Entries: entries})
	}
	if len(entries) == 0 {
		opts.IO.Printf("no history entries%s\n", filterNote(opts))
		return nil
	}
	if opts.Wide {
		return renderWide(opts.IO, entries)
	}
	return renderTable(opts.IO, entries)
}

func filterNote(o *Options) string {
	var parts []string
	if o.Since != "" {
		parts = append(parts, "since "+o.since.UTC().Format(time.RFC3339))
	}
	if o.Command != "" {
		parts = append(parts, fmt.Sprintf("for %q", o.Command))
	}
	if len(parts) == 0 {
		return ""
	}
	return " " + strings.Join(parts, " ")
}

// renderTable is one line per entry, as `git log --oneline` is: the time
// to the minute (UTC), the change in words, the reason cut to fit.
func renderTable(io *ui.IOStreams, entries []provider.Entry) error {
	th := io.Theme()
	t := io.NewTable("time (utc)", "actor", "command", "result", "change", "reason")
	for _, e := range entries {
		t.Row(e.Time.UTC().Format("2006-01-02 15:04"), e.Actor, ellipsis(e.Command, 40), th.Status(e.Result),
			ellipsis(summary(e), 60), ellipsis(e.Reason, 40))
	}
	return t.Render(io.Out)
}

// renderWide is the table with the recorded before → after as they are
// and the whole reason.
func renderWide(io *ui.IOStreams, entries []provider.Entry) error {
	th := io.Theme()
	t := io.NewTable("time", "actor", "command", "result", "change", "before → after", "reason")
	for _, e := range entries {
		t.Row(e.Time.UTC().Format(time.RFC3339), e.Actor, e.Command, th.Status(e.Result), summary(e), rawChange(e), e.Reason)
	}
	return t.Render(io.Out)
}

// rawChange is the recorded before → after in compact JSON, whole.
func rawChange(e provider.Entry) string {
	if e.Before == nil && e.After == nil {
		return "-"
	}
	j := func(v any) string {
		if v == nil {
			return "-"
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(raw)
	}
	return j(e.Before) + " → " + j(e.After)
}

// change is the entry's before → after and its detail, on one line; an
// entry without a before shows its detail alone when it has one (the full
// after is in -o json).
func change(e provider.Entry) string {
	var parts []string
	switch {
	case e.Before != nil:
		parts = append(parts, compact(e.Before)+" → "+compact(e.After))
	case e.After != nil && e.Detail == "":
		parts = append(parts, compact(e.After))
	}
	if e.Detail != "" {
		parts = append(parts, e.Detail)
	}
	return strings.Join(parts, "; ")
}

func compact(v any) string {
	if v == nil {
		return "-"
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	s := string(raw)
	if r := []rune(s); len(r) > 60 {
		s = string(r[:59]) + "…"
	}
	return s
}
