package env

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/envspec/rotate"
	"github.com/deployctl/deployctl/pkg/provider"
)

// RotateOptions are the inputs of `env rotate`.
type RotateOptions struct {
	IO        *ui.IOStreams
	Name      string
	FromStdin bool
	DryRun    bool

	f *app.Factory
}

// NewCmdRotate is `env rotate NAME`.
func NewCmdRotate(f *app.Factory, runF func(*RotateOptions) error) *cobra.Command {
	opts := &RotateOptions{IO: f.IO, f: f}
	cmd := &cobra.Command{
		Use:   "rotate NAME [--from-stdin]",
		Short: "Give a secret variable a new value, written where it comes from",
		Long: `Rotate a secret variable: generate a new value that meets the schema's rules
(length, charset, pattern; or read it from stdin with --from-stdin, checked
against the rules and never shown), write it to the variable source it comes
from (a dotenv file, the Kubernetes Secret, the AWS Secrets Manager secret),
keep the old value as NAME_PREVIOUS when the schema says the application
accepts one (previous: true), record when (for env diff's rotation.max_age),
then restart both slots on Kubernetes, or say what to restart.
It holds the environment's lock, asks for confirmation, and records the
rotation in the history without the value. --dry-run shows the plan only.
Exit status: 0 rotated; 1 the write or the restart failed (the message says
which and what is in place); 2 NAME is unknown, not secret, or its source is
read-only; 3 the environment is locked; 4 the source is unreachable.`,
		Example: `  deployctl env rotate JWT_SECRET --dry-run
  deployctl -e production env rotate JWT_SECRET --yes --confirm production
  pass show api/smtp | deployctl env rotate EMAIL_PASSWORD --from-stdin -o json`,
		Args: app.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name, opts.DryRun = args[0], f.Flags.DryRun
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return rotateRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.FromStdin, "from-stdin", false, "read the new value from stdin (a pipe) instead of generating one")
	return cmd
}

func (o *RotateOptions) validate() error {
	if strings.TrimSpace(o.Name) == "" {
		return app.Usagef("env rotate needs the variable's NAME")
	}
	if o.FromStdin && o.IO.StdinTTY {
		return app.Usagef("--from-stdin reads a pipe, so that the value is not shown as you type: pass it as `pass show KEY | deployctl env rotate %s --from-stdin`", o.Name)
	}
	return nil
}

func rotateRun(ctx context.Context, o *RotateOptions) error {
	e, err := rotateEngine(ctx, o.f)
	if err != nil {
		return err
	}
	req := rotate.Request{Name: o.Name, DryRun: o.DryRun}
	if o.FromStdin {
		v, err := readValue(o.IO.In)
		if err != nil {
			return err
		}
		req.Value = &v
	}
	if _, err := e.Check(req); err != nil {
		return err
	}
	e.Confirm = func(plan []string) error { return o.f.Confirm("rotate "+o.Name, plan, false) }
	if !o.DryRun {
		if e.Lock, err = o.f.Guard(ctx); err != nil {
			return err
		}
	}
	res, err := e.Rotate(ctx, req)
	if err != nil {
		return err
	}
	if o.f.Flags.JSON() {
		return o.IO.JSON(res)
	}
	return renderRotate(o.IO, res)
}

// rotateEngine builds the engine from the environment's schema, sources
// and traffic provider (for the restart).
func rotateEngine(ctx context.Context, f *app.Factory) (*rotate.Engine, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	schema, err := loadSchema(cfg)
	if err != nil {
		return nil, err
	}
	srcs, err := f.VariableSources(ctx)
	if err != nil {
		return nil, err
	}
	e := &rotate.Engine{Schema: schema, Env: cfg.Env, Sources: srcs, History: f.Recorder(), Now: f.Now,
		RestartHint: "restart the application in both slots (blue and green) so that they read the new value"}
	if r, err := f.Traffic(ctx); err == nil {
		if rs, ok := r.(provider.SlotRestarter); ok {
			e.Restarter = rs
		}
	}
	return e, nil
}

// readValue reads the new value from stdin, without its final line break.
func readValue(in io.Reader) (string, error) {
	raw, err := io.ReadAll(io.LimitReader(in, 1<<20))
	if err != nil {
		return "", fmt.Errorf("read the new value from stdin: %w", err)
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(raw), "\n"), "\r")
	if strings.TrimSpace(v) == "" {
		return "", app.Usagef("--from-stdin read an empty value: pipe the new value in")
	}
	return v, nil
}

func renderRotate(io *ui.IOStreams, res rotate.Result) error {
	if res.DryRun {
		fmt.Fprintf(io.Out, "dry run: would rotate %s in %s:\n", res.Name, res.Env)
		for _, l := range res.Plan {
			fmt.Fprintf(io.Out, "  %s\n", l)
		}
		_, err := fmt.Fprintln(io.Out, "nothing was changed")
		return err
	}
	fmt.Fprintf(io.Out, "%s rotated %s in %s: new value written to %s\n", io.Theme().OK.Render("✓"), res.Name, res.Env, res.Source)
	if res.Previous != "" {
		fmt.Fprintf(io.Out, "  the old value is kept as %s; remove it once every instance runs with the new one\n", res.Previous)
	}
	if len(res.Restarted) > 0 {
		fmt.Fprintf(io.Out, "  restarted %s\n", strings.Join(res.Restarted, ", "))
	}
	if res.Restart != "" {
		fmt.Fprintf(io.Out, "  next: %s\n", res.Restart)
	}
	return nil
}
