package migrate

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/migrate"
)

// DownOptions are the options of migrate down.
type DownOptions struct {
	IO           *ui.IOStreams
	Factory      *app.Factory
	Flags        *DBFlags
	To           int64 // -1: the newest only
	AllowChanged bool
	LockTimeout  time.Duration
}

// NewCmdDown returns migrate down.
func NewCmdDown(f *app.Factory, fl *DBFlags, runF func(*DownOptions) error) *cobra.Command {
	opts := &DownOptions{IO: f.IO, Factory: f, Flags: fl}
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Roll back the newest migration, or every one above --to",
		Long: `Roll back the newest applied migration, or with --to VERSION every applied
migration above VERSION (--to 0 rolls back everything), newest first.

Destructive: asks for confirmation (or --yes). Refuses a migration without a
down section or marked '-- deployctl:irreversible <reason>'.`,
		Example: "  deployctl migrate down --yes\n  deployctl migrate down --to 20260101120000 --yes --reason \"undo release 1.4\"",
		Args:    app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("to") {
				opts.To = -1
			} else if opts.To < 0 {
				return app.Usagef("invalid --to %d: use 0 or a version", opts.To)
			}
			if err := lockTimeoutValid(opts.LockTimeout); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return downRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().Int64Var(&opts.To, "to", 0, "roll back every applied version above this one (0: all)")
	completeVersions(cmd, f, fl)
	cmd.Flags().BoolVar(&opts.AllowChanged, "allow-changed", false, "roll back even though applied files were edited since they ran")
	addLockTimeout(cmd, &opts.LockTimeout)
	return cmd
}

func downRun(ctx context.Context, opts *DownOptions) error {
	f := opts.Factory
	e, err := engine(ctx, f, opts.Flags, "migrate down", opts.LockTimeout)
	if err != nil {
		return err
	}
	defer e.DB.Close()
	if f.Flags.DryRun {
		return downDryRun(ctx, opts, e)
	}
	if err := confirmDown(ctx, f, e, opts.To, "roll back"); err != nil {
		return err
	}
	res, err := e.Down(ctx, migrate.DownOptions{To: opts.To, AllowChanged: opts.AllowChanged})
	if rerr := renderResult(opts.IO, f.Flags.JSON(), res, err); rerr != nil {
		return rerr
	}
	return err
}

func downDryRun(ctx context.Context, opts *DownOptions, e *migrate.Engine) error {
	st, err := e.DB.ReadState(ctx)
	if err != nil {
		return err
	}
	list, err := e.DownList(st, opts.To)
	if err != nil {
		return err
	}
	res := &migrate.Result{Database: e.DB.Name(), From: st.Current(), To: st.Current()}
	for _, m := range list {
		res.Applied = append(res.Applied, migrate.Applied{Version: m.Version, File: m.File, Direction: "down"})
		delete(st.Applied, m.Version)
		res.To = st.Current()
	}
	if opts.Factory.Flags.JSON() {
		return renderResult(opts.IO, true, res, nil)
	}
	// the plan, and nothing that reads as done: no durations, no "now at"
	if len(list) == 0 {
		opts.IO.Printf("dry run: nothing to roll back on %s (at version %d); nothing was changed\n", res.Database, res.From)
		return nil
	}
	t := opts.IO.NewTable("version", "file", "would run")
	for _, a := range res.Applied {
		t.Row(fmt.Sprint(a.Version), a.File, "down")
	}
	if err := t.Render(opts.IO.Out); err != nil {
		return err
	}
	opts.IO.Printf("dry run: %s would go from version %d to %d; nothing was changed\n", res.Database, res.From, res.To)
	return nil
}

// confirmDown shows exactly which migrations a roll-back runs down, and
// asks by the one rule of confirmations.
func confirmDown(ctx context.Context, f *app.Factory, e *migrate.Engine, to int64, verb string) error {
	st, err := e.DB.ReadState(ctx)
	if err != nil {
		return err
	}
	list, err := e.DownList(st, to)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return nil // nothing to roll back: Down says so
	}
	plan := make([]string, len(list))
	for i, m := range list {
		plan[i] = fmt.Sprintf("%s %s (version %d)", verb, m.File, m.Version)
	}
	return f.Confirm(fmt.Sprintf("%s %d migration(s) on %s", verb, len(list), e.DB.Name()), plan, false)
}
