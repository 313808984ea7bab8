package maintenance

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/maintenance"
	"github.com/deployctl/deployctl/pkg/timeutil"
)

// ScheduleOptions are the options of maintenance schedule.
type ScheduleOptions struct {
	IO       *ui.IOStreams
	Factory  *app.Factory
	Start    string
	Duration string
	Message  string
	Request  maintenance.ScheduleRequest
}

// NewCmdSchedule returns maintenance schedule.
func NewCmdSchedule(f *app.Factory, runF func(*ScheduleOptions) error) *cobra.Command {
	opts := &ScheduleOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "schedule --start TIME --duration D",
		Short: "Record a maintenance window and announce it by email",
		Long: `Record a maintenance window in the environment's state and announce it by
email to maintenance.notify.to, from maintenance.notify.from, through the
environment's SMTP settings (EMAIL_HOST, EMAIL_PORT, EMAIL_USER,
EMAIL_PASSWORD; STARTTLS when offered, AUTH when a user is set).

The announcement is sent first: when the mail server cannot be reached (exit
4) nothing is recorded and the command can simply be run again. A window that
overlaps another is refused. Scheduling does not switch anything on by itself:
'deployctl maintenance tick' from cron does, at the window's start and end, or
run 'deployctl maintenance on' (or 'run') when the window starts; status shows
a started window as due until then.`,
		Example: `  deployctl maintenance schedule --start 2026-12-01T22:00:00Z --duration 1h --message "Database upgrade"
  deployctl maintenance schedule --start 2h --duration 30m --dry-run`,
		Args: app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.validate(f.Now()); err != nil {
				return err
			}
			opts.Request.DryRun = f.Flags.DryRun
			if runF != nil {
				return runF(opts)
			}
			return scheduleRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Start, "start", "", "start: RFC 3339 time or a duration from now (required)")
	cmd.Flags().StringVar(&opts.Duration, "duration", "", "length of the window: 30m, 2h, 1d (required)")
	cmd.Flags().StringVarP(&opts.Message, "message", "m", "", "what the maintenance is for (in the email and, later, on the page)")
	return cmd
}

func (o *ScheduleOptions) validate(now time.Time) error {
	if o.Start == "" || o.Duration == "" {
		return app.Usagef("--start and --duration are required")
	}
	start, err := timeutil.ParseTime(o.Start, now)
	if err != nil {
		return app.Usagef("invalid --start: %v", err)
	}
	d, err := timeutil.ParseDuration(o.Duration)
	if err != nil {
		return app.Usagef("invalid --duration: %v", err)
	}
	o.Request = maintenance.ScheduleRequest{Start: start, Duration: d, Message: o.Message}
	if err := maintenance.ValidateSchedule(o.Request, now); err != nil {
		return app.Usagef("%v", err)
	}
	return nil
}

func scheduleRun(ctx context.Context, opts *ScheduleOptions) error {
	f := opts.Factory
	e, err := engine(ctx, f, needs{lock: true, state: true, notify: !f.Flags.DryRun})
	if err != nil {
		return err
	}
	res, err := e.Schedule(ctx, opts.Request)
	if err != nil {
		return err
	}
	w := res.Window
	switch {
	case res.DryRun: // no window id: none was given, and a real run picks its own
		opts.IO.Printf("dry run: would record a window (%s to %s) and send:\n\nSubject: %s\n\n%s\nnothing was changed\n",
			fmtTime(w.Start), fmtTime(w.End), res.Subject, res.Body)
	case w.AnnouncedAt == nil:
		opts.IO.Printf("%s window %s recorded (%s to %s); not announced: maintenance.notify.to is empty\n", opts.IO.Theme().Warn.Render("!"), w.ID, fmtTime(w.Start), fmtTime(w.End))
	default:
		opts.IO.Printf("%s window %s recorded (%s to %s) and announced to %d recipients\n", opts.IO.Theme().OK.Render("✓"), w.ID, fmtTime(w.Start), fmtTime(w.End), len(w.AnnouncedTo))
	}
	if f.Flags.JSON() {
		return opts.IO.JSON(res)
	}
	if !res.DryRun {
		fmt.Fprintln(opts.IO.Out, w.ID)
	}
	return nil
}
