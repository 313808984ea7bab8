package rollout

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/history"
	"github.com/deployctl/deployctl/pkg/provider"
)

// HistoryOptions are the options of rollout history.
type HistoryOptions struct {
	IO      *ui.IOStreams
	Factory *app.Factory
	Limit   int
}

// HistoryJSON is `rollout history -o json`.
type HistoryJSON struct {
	Entries []provider.Entry `json:"entries"`
}

// NewCmdHistory returns `rollout history`.
func NewCmdHistory(f *app.Factory, runF func(*HistoryOptions) error) *cobra.Command {
	opts := &HistoryOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "history",
		Short: "Show every rollout change: time, actor, weights before and after, reason, result",
		Example: `  deployctl rollout history
  deployctl rollout history --limit 5 -o json`,
		Args: app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Limit < 0 {
				return app.Usagef("invalid --limit %d: give 0 (all) or more", opts.Limit)
			}
			if runF != nil {
				return runF(opts)
			}
			return historyRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().IntVar(&opts.Limit, "limit", 0, "only the newest N changes (0: all)")
	return cmd
}

func historyRun(ctx context.Context, opts *HistoryOptions) error {
	h, err := opts.Factory.History(ctx)
	if err != nil {
		return err
	}
	es, err := h.List(ctx, provider.Filter{Command: "rollout", Limit: opts.Limit})
	if err != nil {
		return err
	}
	if es == nil {
		es = []provider.Entry{}
	}
	if opts.Factory.Flags.JSON() {
		return opts.IO.JSON(HistoryJSON{Entries: es})
	}
	if len(es) == 0 {
		opts.IO.Printf("no rollout changes yet\n")
		return nil
	}
	t := opts.IO.NewTable("TIME", "ACTOR", "COMMAND", "BEFORE", "AFTER", "REASON", "RESULT")
	for _, e := range es {
		t.Row(e.Time.UTC().Format(time.RFC3339), e.Actor, e.Command, history.Value(e.Before), history.Value(e.After), dash(e.Reason), opts.IO.Theme().Status(e.Result))
	}
	return t.Render(opts.IO.Out)
}
