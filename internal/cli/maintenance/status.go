package maintenance

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/maintenance"
)

// StatusOptions are the options of maintenance status.
type StatusOptions struct {
	IO      *ui.IOStreams
	Factory *app.Factory
}

// NewCmdStatus returns maintenance status.
func NewCmdStatus(f *app.Factory, runF func(*StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{IO: f.IO, Factory: f}
	return &cobra.Command{
		Use:   "status",
		Short: "Show whether maintenance is on, since when, until when, by whom",
		Long: `Show the maintenance switch as the data plane holds it: on or off, message,
since, until, who switched it on, the allow-list, and the scheduled windows
that are not over. A window past its --until is shown as expired (visitors
pass through again) and a scheduled window that ended while maintenance is
still on as overdue.

JSON: {"on","active","expired","message","since","until","by","allow",
"remaining","overdue_by","windows":[{"id","start","end","message","state",…}]}`,
		Example: "  deployctl maintenance status\n  deployctl maintenance status -o json | jq .on",
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
	e, err := engine(ctx, f, needs{state: true})
	if err != nil {
		return err
	}
	s, err := e.Status(ctx)
	if err != nil {
		return err
	}
	if f.Flags.JSON() {
		return opts.IO.JSON(s)
	}
	renderStatus(opts.IO, s)
	return nil
}

func renderStatus(io *ui.IOStreams, s maintenance.Status) {
	th := io.Theme()
	w := io.Out
	state := th.OK.Render("off")
	switch {
	case s.Active:
		state = th.Warn.Render("on") + ": visitors get the maintenance page"
	case s.Expired:
		state = th.Fail.Render("expired") + fmt.Sprintf(" %s ago: visitors pass through again; run 'deployctl maintenance off'", s.OverdueBy)
	}
	fmt.Fprintf(w, "maintenance  %s\n", state)
	if s.On {
		fmt.Fprintf(w, "message      %s\n", orDash(s.Message))
		since := "-"
		if s.Since != nil {
			since = fmtTime(*s.Since)
		}
		fmt.Fprintf(w, "since        %s by %s\n", since, orDash(s.By))
		until := "open-ended (Retry-After 300s)"
		if s.Until != nil {
			until = fmtTime(*s.Until)
			if s.Remaining != "" {
				until += " (in " + s.Remaining + ")"
			}
		}
		fmt.Fprintf(w, "until        %s\n", until)
		fmt.Fprintf(w, "allow        %s\n", orDash(strings.Join(s.Allow, ", ")))
	}
	if len(s.Windows) > 0 {
		fmt.Fprintln(w)
		renderWindows(io, s.Windows)
	}
}

func renderWindows(io *ui.IOStreams, ws []maintenance.WindowStatus) {
	t := io.NewTable("id", "start", "end", "state", "announced", "message")
	for _, w := range ws {
		ann := "no"
		if w.AnnouncedAt != nil {
			ann = fmt.Sprintf("%d recipients", len(w.AnnouncedTo))
		}
		t.Row(w.ID, fmtTime(w.Start), fmtTime(w.End), stateStyle(io, w.State), ann, w.Message)
	}
	_ = t.Render(io.Out)
}

func stateStyle(io *ui.IOStreams, s string) string {
	switch s {
	case maintenance.StateOverdue, maintenance.StateDue:
		return io.Theme().Fail.Render(s)
	case maintenance.StateInProgress:
		return io.Theme().Warn.Render(s)
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ReadStatus is what maintenance status shows, for deployctl status.
func ReadStatus(ctx context.Context, f *app.Factory) (maintenance.Status, error) {
	e, err := engine(ctx, f, needs{state: true})
	if err != nil {
		return maintenance.Status{}, err
	}
	return e.Status(ctx)
}
