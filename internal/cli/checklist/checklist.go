// Package checklist is `deployctl checklist`: the production checklist of
// pkg/checklist, wired to the environment's configuration, its migrations,
// its backups and its traffic provider.
package checklist

import (
	"context"
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/checklist"
)

// Options are the options of checklist.
type Options struct {
	IO      *ui.IOStreams
	Factory *app.Factory
	Only    []string
	Output  string // table | json | junit
}

// NewCmdChecklist returns the checklist command.
func NewCmdChecklist(f *app.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:     "checklist",
		Short:   "Run the production checklist: tests, security, performance, migrations, rollback, monitoring, backups",
		GroupID: "release",
		Long: `Run the seven checks of the production checklist at once, each within
checklist.timeout, and show for each pass, warn, fail or skip with its evidence
(what was run or read, when, how long) and, when it fails, what to do:

  tests        checklist.tests.run exits 0, or checklist.tests.junit is a JUnit
               report for the current git commit, no older than max_age
  security     checklist.security.run (a scanner such as govulncheck) exits 0
  performance  the load test (checklist.performance.run and/or .summary) is no
               older than max_age; error rate and P95 within analysis.error_rate_max
               and analysis.p95_max (1% and 500ms)
  migrations   every pending migration rehearsed for the current set, lint clean
  rollback     the runbook exists and is not empty; every pending migration has a
               down section or is marked irreversible with a reason; the standby
               slot runs and is healthy
  monitoring   Prometheus answers and has alert rules for error rate and latency
  backups      the newest backup is younger than max_age (26h) and restore-verified

A waiver in checklist.waivers (id, reason, expires) turns a check's findings into
a warning until it expires; an expired waiver fails. Exit 0 when nothing failed,
1 otherwise. The run is recorded in the history.`,
		Example: `  deployctl checklist -e production
  deployctl checklist --only tests,security
  deployctl checklist -e production -o json | jq '.checks[] | select(.status=="fail")'
  deployctl checklist -e production -o junit > checklist.xml`,
		Args: app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Output = f.Flags.Output
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringSliceVar(&opts.Only, "only", nil, "run only these checks (comma-separated): "+strings.Join(checklist.IDs, ","))
	_ = cmd.RegisterFlagCompletionFunc("only", cobra.FixedCompletions(checklist.IDs, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (o *Options) validate() error {
	only, err := checklist.ParseOnly(o.Only)
	if err != nil {
		return app.Usagef("--only: %v", err)
	}
	o.Only = only
	switch o.Output {
	case "table", "json", "junit":
	default:
		return app.Usagef("invalid --output %q: use table, json or junit", o.Output)
	}
	return nil
}

func run(ctx context.Context, opts *Options) error {
	f := opts.Factory
	runner, err := newRunner(ctx, f)
	if err != nil {
		return err
	}
	cfg, _ := f.Config()
	rep := runner.Run(ctx, cfg.Env, opts.Only)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := render(opts, rep); err != nil {
		return err
	}
	if f.Flags.DryRun {
		opts.IO.Printf("dry run: the checks ran, and this run is not recorded in the history\n")
	}
	if !rep.OK {
		return app.ErrFailed
	}
	return nil
}

func render(opts *Options, rep checklist.Report) error {
	switch opts.Output {
	case "json":
		return opts.IO.JSON(rep)
	case "junit":
		return checklist.WriteJUnit(opts.IO.Out, rep)
	}
	return renderTable(opts.IO, rep)
}

// errConfig marks a problem in the checklist section: exit 2.
func errConfig(file string, err error) error {
	var ue *app.UsageError
	if errors.As(err, &ue) {
		return err
	}
	return app.Usagef("%s: %v", file, err)
}
