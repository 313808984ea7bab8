package maintenance

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/maintenance"
)

// ListOptions are the options of maintenance list.
type ListOptions struct {
	IO      *ui.IOStreams
	Factory *app.Factory
}

// NewCmdList returns maintenance list.
func NewCmdList(f *app.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IO, Factory: f}
	return &cobra.Command{
		Use:     "list",
		Short:   "List the scheduled maintenance windows",
		Long:    "List the scheduled windows by start, with their state: upcoming, due (started, but\nmaintenance is off), in-progress, overdue (ended, maintenance still on) or ended\n(kept 30 days). JSON: {\"windows\":[{\"id\",\"start\",\"end\",\"message\",\"by\",\"state\",\"announced_to\",…}]}",
		Example: "  deployctl maintenance list\n  deployctl maintenance list -o json",
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
	e, err := engine(ctx, opts.Factory, needs{state: true})
	if err != nil {
		return err
	}
	ws, err := e.Windows(ctx)
	if err != nil {
		return err
	}
	if opts.Factory.Flags.JSON() {
		return opts.IO.JSON(struct {
			Windows []maintenance.WindowStatus `json:"windows"`
		}{ws})
	}
	if len(ws) == 0 {
		opts.IO.Printf("no maintenance windows scheduled: add one with 'deployctl maintenance schedule'\n")
		return nil
	}
	renderWindows(opts.IO, ws)
	return nil
}
