package maintenance

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
)

// CancelOptions are the options of maintenance cancel.
type CancelOptions struct {
	IO      *ui.IOStreams
	Factory *app.Factory
	ID      string
}

// NewCmdCancel returns maintenance cancel.
func NewCmdCancel(f *app.Factory, runF func(*CancelOptions) error) *cobra.Command {
	opts := &CancelOptions{IO: f.IO, Factory: f}
	return &cobra.Command{
		Use:     "cancel ID",
		Short:   "Cancel a scheduled maintenance window",
		Long:    "Remove a scheduled window. When it was announced, a cancellation goes to the\nsame recipients; if that mail cannot be sent the window is still cancelled\nand a warning says so.",
		Example: "  deployctl maintenance cancel 20261201-2200",
		Args:    app.ExactArgs(1),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
			return windowIDs(cmd.Context(), f, args, prefix), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(opts)
			}
			return cancelRun(cmd.Context(), opts)
		},
	}
}

func cancelRun(ctx context.Context, opts *CancelOptions) error {
	f := opts.Factory
	e, err := engine(ctx, f, needs{lock: true, state: true, notify: !f.Flags.DryRun})
	if err != nil {
		return err
	}
	w, err := e.Cancel(ctx, opts.ID, f.Flags.DryRun)
	if err != nil {
		return err
	}
	if f.Flags.DryRun {
		opts.IO.Printf("dry run: would cancel window %s (%s to %s); nothing was changed\n", w.ID, fmtTime(w.Start), fmtTime(w.End))
	} else {
		opts.IO.Printf("%s window %s cancelled\n", opts.IO.Theme().OK.Render("✓"), w.ID)
	}
	if f.Flags.JSON() {
		return opts.IO.JSON(w)
	}
	return nil
}

// windowIDs completes the id of a scheduled window, with its start and
// message; nothing when the state cannot be read.
func windowIDs(ctx context.Context, f *app.Factory, args []string, prefix string) []string {
	if len(args) > 0 {
		return nil
	}
	e, err := engine(ctx, f, needs{state: true})
	if err != nil {
		return nil
	}
	ws, err := e.Windows(ctx)
	if err != nil {
		return nil
	}
	var out []string
	for _, w := range ws {
		if strings.HasPrefix(w.ID, prefix) {
			out = append(out, w.ID+"\t"+fmtTime(w.Start)+" "+w.Message)
		}
	}
	return out
}
