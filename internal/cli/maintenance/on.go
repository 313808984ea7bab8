package maintenance

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/maintenance"
	"github.com/deployctl/deployctl/pkg/provider"
)

// OnOptions are the options of maintenance on.
type OnOptions struct {
	IO         *ui.IOStreams
	Factory    *app.Factory
	Flags      onFlags
	AllowGiven bool
	Request    maintenance.OnRequest
}

// NewCmdOn returns maintenance on.
func NewCmdOn(f *app.Factory, runF func(*OnOptions) error) *cobra.Command {
	opts := &OnOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "on",
		Short: "Serve the maintenance page (503 with Retry-After) to every visitor",
		Long: `Switch maintenance on and return once the data plane serves the page.
Running it again while on updates the message, end or allow-list and keeps
the start; asking for what is already in force changes nothing. Without
--message and --until during a scheduled window, the window's message and
end are used.`,
		Example: `  deployctl maintenance on --message "Upgrading the database" --until 30m
  deployctl maintenance on --until 2026-12-01T23:00:00Z --allow 10.0.0.0/8 --allow 2001:db8::/32
  deployctl maintenance on --dry-run`,
		Args: app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.AllowGiven = cmd.Flags().Changed("allow")
			r, err := opts.Flags.request(f.Now())
			if err != nil {
				return err
			}
			opts.Request = r
			opts.Request.DryRun = f.Flags.DryRun
			if runF != nil {
				return runF(opts)
			}
			return onRun(cmd.Context(), opts)
		},
	}
	opts.Flags.add(cmd)
	return cmd
}

func onRun(ctx context.Context, opts *OnOptions) error {
	f := opts.Factory
	if err := withDefaults(f, &opts.Request.Allow, opts.AllowGiven); err != nil {
		return err
	}
	e, err := engine(ctx, f, needs{lock: true, state: true})
	if err != nil {
		return err
	}
	if !opts.Request.DryRun {
		r := opts.Request
		st := provider.MaintenanceState{On: true, Until: r.Until, Allow: r.Allow}
		plan := []string{"every request gets 503 and the maintenance page, " + fmtUntil(st), allowNote(st)}
		if r.Message != "" {
			plan = append(plan, "message: "+r.Message)
		}
		if err := f.Confirm("switch maintenance on", plan, true); err != nil {
			return err
		}
	}
	ch, err := e.On(ctx, opts.Request)
	if err != nil {
		return err
	}
	return renderChange(opts.IO, f.Flags.JSON(), ch)
}

func renderChange(io *ui.IOStreams, asJSON bool, ch maintenance.Change) error {
	st := ch.After
	switch {
	case ch.DryRun && ch.Changed && st.On:
		io.Printf("dry run: would switch maintenance on (%s); %s; nothing was changed\n", fmtUntil(st), allowNote(st))
	case ch.DryRun && ch.Changed:
		io.Printf("dry run: would switch maintenance off; nothing was changed\n")
	case !ch.Changed && st.On:
		io.Printf("maintenance is already on (%s): nothing changed\n", fmtUntil(st))
	case !ch.Changed:
		io.Printf("maintenance is already off: nothing changed\n")
	case st.On:
		io.Printf("%s maintenance is on (%s); %s\n", io.Theme().OK.Render("✓"), fmtUntil(st), allowNote(st))
	default:
		io.Printf("%s maintenance is off: traffic reaches the application again\n", io.Theme().OK.Render("✓"))
	}
	if asJSON {
		return io.JSON(ch)
	}
	return nil
}
