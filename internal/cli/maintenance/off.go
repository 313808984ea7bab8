package maintenance

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
)

// OffOptions are the options of maintenance off.
type OffOptions struct {
	IO      *ui.IOStreams
	Factory *app.Factory
}

// NewCmdOff returns maintenance off.
func NewCmdOff(f *app.Factory, runF func(*OffOptions) error) *cobra.Command {
	opts := &OffOptions{IO: f.IO, Factory: f}
	return &cobra.Command{
		Use:     "off",
		Short:   "Stop serving the maintenance page",
		Long:    "Switch maintenance off and return once the data plane passes traffic again.\nIdempotent: off when already off changes nothing and exits 0.",
		Example: "  deployctl maintenance off\n  deployctl maintenance off --reason \"upgrade done\"",
		Args:    app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return offRun(cmd.Context(), opts)
		},
	}
}

func offRun(ctx context.Context, opts *OffOptions) error {
	f := opts.Factory
	e, err := engine(ctx, f, needs{lock: true})
	if err != nil {
		return err
	}
	if !f.Flags.DryRun {
		if err := f.Confirm("switch maintenance off", []string{"traffic reaches the application again"}, true); err != nil {
			return err
		}
	}
	ch, err := e.Off(ctx, f.Flags.DryRun)
	if err != nil {
		return err
	}
	return renderChange(opts.IO, f.Flags.JSON(), ch)
}
