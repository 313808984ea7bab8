// Package maintenance is the `deployctl maintenance` command group: thin
// commands over pkg/maintenance.
package maintenance

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/pkg/maintenance"
	"github.com/deployctl/deployctl/pkg/maintenance/page"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/timeutil"
)

// NewCmdMaintenance returns the maintenance command group.
func NewCmdMaintenance(f *app.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "maintenance <command>",
		Short:   "Serve a maintenance page: on, off, run, and scheduled windows",
		GroupID: "operate",
		Long: `Put the environment in maintenance: every request gets 503 with Retry-After,
Cache-Control: no-store and the page of maintenance.page (JSON when the client
asks for application/json), while the health paths keep answering and clients
in the allow-list (maintenance.allow, or --allow) pass through.

on, off and run take the environment lock. on and off are idempotent. A window
with --until ends by itself: after it visitors pass through again and status
shows it as expired until somebody runs 'maintenance off'.`,
		Example: `  deployctl maintenance on --message "Upgrading the database" --until 30m
  deployctl maintenance status -o json
  deployctl maintenance off
  deployctl maintenance run --message "Restoring" -- deployctl backup restore latest --yes
  deployctl maintenance schedule --start 2026-12-01T22:00:00Z --duration 1h --message "Database upgrade"
  deployctl maintenance tick   # from cron, every minute: starts and ends scheduled windows`,
	}
	cmd.AddCommand(
		NewCmdOn(f, nil), NewCmdOff(f, nil), NewCmdStatus(f, nil),
		NewCmdRun(f, nil), NewCmdSchedule(f, nil), NewCmdList(f, nil), NewCmdCancel(f, nil),
		NewCmdTick(f, nil),
	)
	return cmd
}

// needs says which optional dependencies an engine gets.
type needs struct{ lock, state, router, notify bool }

// engine builds the maintenance engine of the environment.
func engine(ctx context.Context, f *app.Factory, n needs) (*maintenance.Engine, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	sw, err := f.Maintenance(ctx)
	if err != nil {
		return nil, err
	}
	e := &maintenance.Engine{
		Switch: sw, History: f.Recorder(), Env: cfg.Env, Actor: f.Actor(), Now: f.Now,
		Logf:     func(format string, a ...any) { f.IO.Printf(format+"\n", a...) },
		Notifier: f.Notifier(),
	}
	if n.lock {
		if e.Lock, err = f.Guard(ctx); err != nil {
			return nil, err
		}
	}
	if n.state || n.notify {
		if e.State, err = f.State(ctx); err != nil && (n.notify || !errors.Is(err, provider.ErrUnsupported)) {
			return nil, err
		}
	}
	if n.router {
		if e.Router, err = f.Traffic(ctx); err != nil {
			return nil, err
		}
	}
	if n.notify {
		if err := wireNotify(ctx, f, e); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// onFlags are the flags of on and run.
type onFlags struct {
	Message string
	Until   string
	Allow   []string
}

func (o *onFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&o.Message, "message", "m", "", "message on the page and in the JSON body (plain text)")
	cmd.Flags().StringVar(&o.Until, "until", "", "end: RFC 3339 time or a duration from now (30m, 2h); sets Retry-After")
	cmd.Flags().StringArrayVar(&o.Allow, "allow", nil, "CIDR or address that passes through (repeatable; replaces maintenance.allow)")
}

// request validates the flags (no I/O) into an engine request.
func (o *onFlags) request(now time.Time) (maintenance.OnRequest, error) {
	r := maintenance.OnRequest{Message: o.Message, Allow: o.Allow}
	if o.Until != "" {
		t, err := timeutil.ParseTime(o.Until, now)
		if err != nil {
			return r, app.Usagef("invalid --until: %v", err)
		}
		r.Until = t
	}
	if err := maintenance.ValidateOn(r, now); err != nil {
		return r, app.Usagef("%v", err)
	}
	return r, nil
}

// withDefaults fills the allow-list from maintenance.allow when --allow was
// not given; a bad configured entry is a configuration error (exit 2).
func withDefaults(f *app.Factory, allow *[]string, given bool) error {
	if given {
		return nil
	}
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	if _, err := page.ParseAllow(cfg.Maintenance.Allow); err != nil {
		return app.Usagef("%s: maintenance.allow: %v", cfg.File, err)
	}
	*allow = cfg.Maintenance.Allow
	return nil
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func fmtUntil(st provider.MaintenanceState) string {
	if st.Until.IsZero() {
		return "open-ended"
	}
	return "until " + fmtTime(st.Until)
}

func allowNote(st provider.MaintenanceState) string {
	if len(st.Allow) == 0 {
		return "health paths pass through"
	}
	return "health paths and " + strings.Join(st.Allow, ", ") + " pass through"
}
