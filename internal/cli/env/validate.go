package env

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/config"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/envspec"
)

// ValidateOptions are the inputs of `env validate`.
type ValidateOptions struct {
	IO      *ui.IOStreams
	Files   []string
	Connect bool
	Timeout time.Duration

	f *app.Factory
}

// NewCmdValidate is `env validate`.
func NewCmdValidate(f *app.Factory, runF func(*ValidateOptions) error) *cobra.Command {
	opts := &ValidateOptions{IO: f.IO, f: f}
	cmd := &cobra.Command{
		Use:   "validate [--file F]... [--connect]",
		Short: "Check every variable against the schema and the environment's rules",
		Long: `Check every variable of the schema against its type, required, and the rules
of the environment given by --env, and report every problem at once:
missing, invalid, blank, and unknown (in a file, but not in the schema).

--file validates those dotenv files (later ones win) instead of the
environment's configured sources, so CI can check a file against production's
rules without reaching production.

--connect also proves the values work: it connects to DATABASE_URL and prints
the server version, and talks SMTP to EMAIL_HOST:EMAIL_PORT (EHLO, STARTTLS
when offered, AUTH with EMAIL_USER and EMAIL_PASSWORD). A private CA for the
SMTP server is trusted through SSL_CERT_FILE.

Without --file, production's secrets are compared with staging's (and
staging's with production's) by hash: a value both share is a warning.
Exit status: 0 all valid; 1 a variable is invalid or a connection was refused;
2 the schema or a file is malformed; 4 a server could not be reached.`,
		Example: `  deployctl env validate
  deployctl env validate --env production --file .env.production
  deployctl env validate --env production --file .env --file .env.production -o json
  deployctl env validate --env staging --connect --timeout 5s`,
		Args: app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return validateRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringArrayVar(&opts.Files, "file", nil, "validate this dotenv `file` instead of the configured sources (repeatable; later wins)")
	cmd.Flags().BoolVar(&opts.Connect, "connect", false, "also connect to the database and the SMTP server")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 10*time.Second, "time limit of each --connect check")
	return cmd
}

func (o *ValidateOptions) validate() error {
	if o.Timeout <= 0 {
		return app.Usagef("--timeout must be positive, e.g. 10s")
	}
	for _, f := range o.Files {
		if strings.TrimSpace(f) == "" {
			return app.Usagef("--file needs a path")
		}
	}
	return nil
}

// validateResult is the JSON document of `env validate`.
type validateResult struct {
	*envspec.Report
	Connections []connection `json:"connections,omitempty"`
	Warnings    []string     `json:"warnings,omitempty"`
}

func validateRun(ctx context.Context, o *ValidateOptions) error {
	r, err := resolve(ctx, o.f, o.Files)
	if err != nil {
		return err
	}
	rep := r.schema.Validate(r.cfg.Env, r.vars)
	res := validateResult{Report: rep}
	if len(o.Files) == 0 {
		res.Warnings = sharedSecrets(ctx, o.f, r)
		for _, w := range res.Warnings {
			o.IO.Warnf("%s", w)
		}
	}
	if o.Connect {
		res.Connections = connectAll(ctx, r, rep, o.Timeout)
		for _, c := range res.Connections {
			if c.Status != connOK && c.Status != connSkipped {
				rep.OK = false
			}
		}
	}
	if o.f.Flags.JSON() {
		if err := o.IO.JSON(res); err != nil {
			return err
		}
	} else if err := renderValidate(o.IO, res, o.Files); err != nil {
		return err
	}
	return verdict(res)
}

// verdict picks the exit code: problems with the values (1) weigh more
// than a server that could not be reached (4), which may pass on a retry.
func verdict(res validateResult) error {
	if res.Problems() > 0 {
		return app.ErrFailed
	}
	unreachable := false
	for _, c := range res.Connections {
		switch c.Status {
		case connFailed:
			return app.ErrFailed
		case connUnreachable:
			unreachable = true
		}
	}
	if unreachable {
		return &app.SilentError{Code: app.ExitUnreachable}
	}
	return nil
}

func renderValidate(io *ui.IOStreams, res validateResult, files []string) error {
	th := io.Theme()
	t := io.NewTable("variable", "status", "source", "message")
	for _, v := range res.Variables {
		t.Row(v.Name, th.Status(v.Status), v.Source, v.Message)
	}
	if err := t.Render(io.Out); err != nil {
		return err
	}
	if len(res.Connections) > 0 {
		fmt.Fprintln(io.Out)
		ct := io.NewTable("connection", "target", "status", "detail")
		for _, c := range res.Connections {
			ct.Row(c.Name, c.Target, th.Status(c.Status), c.Detail)
		}
		if err := ct.Render(io.Out); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintln(io.Out, "\n"+summary(res, files))
	return err
}

func summary(res validateResult, files []string) string {
	what := res.Env + "'s variables"
	if len(files) > 0 {
		what = strings.Join(files, ", ") + " against " + res.Env + "'s rules"
	}
	if res.OK {
		return fmt.Sprintf("ok: %d variables checked, %s", len(res.Variables), what)
	}
	counts := map[string]int{}
	for _, v := range res.Variables {
		counts[v.Status]++
	}
	for _, c := range res.Connections {
		counts["connection "+c.Status]++
	}
	var parts []string
	for _, st := range []string{envspec.StatusMissing, envspec.StatusInvalid, envspec.StatusBlank, envspec.StatusUnknown,
		"connection " + connFailed, "connection " + connUnreachable} {
		if counts[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[st], st))
		}
	}
	return fmt.Sprintf("FAILED: %s (%d variables checked, %s)", strings.Join(parts, ", "), len(res.Variables), what)
}

// counterpart is the environment whose secrets must differ from env's.
var counterpart = map[string]string{"production": "staging", "staging": "production"}

// sharedSecrets compares r's secrets with the counterpart environment's
// (production and staging), by hash, and warns of every value they share.
// A counterpart that cannot be read is a warning too: validate still
// judges its own environment.
func sharedSecrets(ctx context.Context, f *app.Factory, r *resolved) []string {
	other, ok := counterpart[r.cfg.Env]
	if !ok || !slices.Contains(config.Environments(r.cfg.Dir), other) {
		return nil
	}
	o, err := resolve(ctx, forEnv(f, other), nil)
	if err != nil {
		return []string{fmt.Sprintf("could not compare the secrets with %s's: %s", other, scrub(err.Error(), r.secrets()))}
	}
	mine, theirs := r.setValues(), o.setValues()
	var out []string
	for _, name := range union(mine, theirs) {
		v := r.schema.Var(name)
		if v == nil || !v.Secret || v.PreviousOf() != nil {
			continue
		}
		a, inA := mine[name]
		b, inB := theirs[name]
		if inA && inB && envspec.Hash(a) == envspec.Hash(b) {
			out = append(out, fmt.Sprintf("%s: %s and %s share the same secret value (compared by hash); give each environment its own: deployctl -e %s env rotate %s", name, r.cfg.Env, other, r.cfg.Env, name))
		}
	}
	return out
}
