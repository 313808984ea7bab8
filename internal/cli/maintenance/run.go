package maintenance

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/maintenance"
)

// RunOptions are the options of maintenance run.
type RunOptions struct {
	IO            *ui.IOStreams
	Factory       *app.Factory
	Flags         onFlags
	AllowGiven    bool
	HealthTimeout time.Duration
	Validate      string
	Request       maintenance.RunRequest
}

// NewCmdRun returns maintenance run.
func NewCmdRun(f *app.Factory, runF func(*RunOptions) error) *cobra.Command {
	opts := &RunOptions{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:   "run [--message M] [--validate CMD] -- COMMAND [ARG]...",
		Short: "Switch maintenance on, run a command, validate, check health, switch off",
		Long: `Switch maintenance on, run COMMAND, run the validation tests of --validate
(a shell command), wait until every slot that receives traffic passes its
readiness check (up to --health-timeout), switch off, and check the slots once
more with maintenance off (the final health check). Each step is recorded in
the history entry.

When COMMAND, the validation tests or the health check fail, maintenance stays
on and the exit status is 1: fix what failed, then 'deployctl maintenance off'.
When only the final health check fails, maintenance is already off: the exit
status is 1 and the message says so. The
environment lock is held only while switching, so COMMAND may take it itself
(deployctl backup restore). A window that was already on stays on.
Put '--' before COMMAND so its flags are not read as deployctl's.`,
		Example: `  deployctl maintenance run --message "Upgrading the database" -- deployctl migrate up
  deployctl maintenance run --validate "make smoke-test" -- deployctl migrate up
  deployctl maintenance run --until 1h -- ./scripts/reindex.sh --all`,
		Args: app.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.AllowGiven = cmd.Flags().Changed("allow")
			r, err := opts.Flags.request(f.Now())
			if err != nil {
				return err
			}
			if opts.HealthTimeout < 0 {
				return app.Usagef("--health-timeout must not be negative")
			}
			r.DryRun = f.Flags.DryRun
			if cmd.Flags().Changed("validate") && strings.TrimSpace(opts.Validate) == "" {
				return app.Usagef("--validate needs a command, e.g. --validate \"make smoke-test\"")
			}
			opts.Request = maintenance.RunRequest{OnRequest: r, Command: args, Validate: opts.Validate, HealthTimeout: opts.HealthTimeout}
			if runF != nil {
				return runF(opts)
			}
			return runRun(cmd.Context(), opts)
		},
	}
	opts.Flags.add(cmd)
	cmd.Flags().DurationVar(&opts.HealthTimeout, "health-timeout", time.Minute, "how long the slots in service may take to become ready after COMMAND")
	cmd.Flags().StringVar(&opts.Validate, "validate", "", "validation tests to run (sh -c) after COMMAND and before switching off; failing keeps maintenance on")
	return cmd
}

func runRun(ctx context.Context, opts *RunOptions) error {
	f := opts.Factory
	if err := withDefaults(f, &opts.Request.Allow, opts.AllowGiven); err != nil {
		return err
	}
	e, err := engine(ctx, f, needs{lock: true, router: true})
	if err != nil {
		return err
	}
	r := opts.Request
	r.Stdin, r.Stdout, r.Stderr = opts.IO.In, opts.IO.Out, opts.IO.ErrOut
	if f.Flags.JSON() {
		r.Stdout = opts.IO.ErrOut // stdout carries the one JSON document
	}
	res, err := e.Run(ctx, r)
	if res.DryRun {
		validate := ""
		if res.Validate != "" {
			validate = ", run the validation tests " + res.Validate
		}
		opts.IO.Printf("dry run: would switch maintenance on, run %s%s, check the health of the slots in service, switch off and check them again; nothing was changed\n", res.Command, validate)
	}
	if err == nil {
		switch {
		case res.DryRun:
		case res.WasOn:
			opts.IO.Printf("%s %s succeeded and the slots are ready; maintenance was already on before, so it stays on\n", opts.IO.Theme().OK.Render("✓"), res.Command)
		default:
			passed := ""
			if res.Validate != "" {
				passed = ", the validation tests passed"
			}
			opts.IO.Printf("%s %s succeeded%s, the slots are ready, maintenance is off and the final health check passed\n", opts.IO.Theme().OK.Render("✓"), res.Command, passed)
		}
		return jsonIf(opts.IO, f.Flags.JSON(), res)
	}
	if res.Failed == "confirm" && ctx.Err() == nil {
		opts.IO.Printf("%s %v\n  see 'deployctl health'; switch maintenance on again with 'deployctl maintenance on' if visitors must not reach it\n", opts.IO.Theme().Fail.Render("✗"), err)
		if jerr := jsonIf(opts.IO, f.Flags.JSON(), res); jerr != nil {
			return jerr
		}
		return app.ErrFailed
	}
	if !errors.Is(err, maintenance.ErrRunFailed) || ctx.Err() != nil {
		return err
	}
	opts.IO.Printf("%s %v\n  fix it, check 'deployctl health', then 'deployctl maintenance off'\n", opts.IO.Theme().Fail.Render("✗"), err)
	if jerr := jsonIf(opts.IO, f.Flags.JSON(), res); jerr != nil {
		return jerr
	}
	return app.ErrFailed
}

func jsonIf(io *ui.IOStreams, asJSON bool, v any) error {
	if asJSON {
		return io.JSON(v)
	}
	return nil
}
