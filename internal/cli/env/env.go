// Package env holds the `deployctl env` commands: validate, diff, show and
// keys. The rules live in pkg/envspec; this package reads the variables
// (from the environment's configured sources or from --file dotenv files),
// renders the verdicts and picks the exit code.
package env

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/config"
	"github.com/deployctl/deployctl/pkg/envspec"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/local/vars"
)

// NewCmdEnv is the `env` command group.
func NewCmdEnv(f *app.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "env <command>",
		Short:   "Validate, compare, show and rotate the application's environment variables",
		GroupID: "release",
		Long: `The application's variables are described by the schema in the config dir
(variables.yaml): type, required, default, secret, and stricter rules per
environment. They are read from the environment's variables.sources (a dotenv
file, the process environment, a Kubernetes ConfigMap/Secret, AWS Secrets
Manager), or from --file. Secret values are never shown: only their length and
a short hash.`,
		Example: `  deployctl env validate --env production --file .env.production
  deployctl env validate --env staging --connect
  deployctl env diff staging production
  deployctl env show -o json
  deployctl env keys
  deployctl env rotate JWT_SECRET --dry-run`,
	}
	cmd.AddCommand(NewCmdValidate(f, nil), NewCmdDiff(f, nil), NewCmdShow(f, nil), NewCmdKeys(f, nil), NewCmdRotate(f, nil))
	return cmd
}

// resolved is an environment's schema and variables.
type resolved struct {
	cfg    *config.Loaded
	schema *envspec.Schema
	vars   map[string]provider.Variable
	// rotated is when each variable was last rotated, as its source records
	// it; timed says its source records such times at all.
	rotated map[string]time.Time
	timed   map[string]bool
}

// resolve loads the environment of f's --env: its schema, and its
// variables from files (later files win) or else its configured sources.
func resolve(ctx context.Context, f *app.Factory, files []string) (*resolved, error) {
	return resolveWith(ctx, f, files, false)
}

// resolveWith is resolve that also reads rotation times when withTimes.
func resolveWith(ctx context.Context, f *app.Factory, files []string, withTimes bool) (*resolved, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	schema, err := loadSchema(cfg)
	if err != nil {
		return nil, err
	}
	r := &resolved{cfg: cfg, schema: schema, rotated: map[string]time.Time{}, timed: map[string]bool{}}
	if len(files) > 0 {
		r.vars, err = readFiles(ctx, files)
	} else {
		err = r.load(ctx, f, withTimes)
	}
	if err != nil {
		return nil, asUsage(err)
	}
	return r, nil
}

// load reads the configured sources in order, a later one winning (as
// app.Factory.Variables), and with withTimes the rotation times of each
// variable's source.
func (r *resolved) load(ctx context.Context, f *app.Factory, withTimes bool) error {
	srcs, err := f.VariableSources(ctx)
	if err != nil {
		return err
	}
	r.vars = map[string]provider.Variable{}
	for _, src := range srcs {
		vs, err := src.Load(ctx)
		if err != nil {
			return err
		}
		var times map[string]time.Time
		rt, timed := src.(provider.RotationTimes)
		timed = timed && withTimes
		if timed && len(vs) > 0 {
			if times, err = rt.RotatedAt(ctx); err != nil {
				return err
			}
		}
		for _, v := range vs {
			r.vars[v.Name] = v
			r.timed[v.Name] = timed
			r.rotated[v.Name] = times[v.Name]
		}
	}
	return nil
}

// loadSchema reads cfg's variables schema; its path is relative to the
// config dir. A broken schema is a configuration error (exit 2).
func loadSchema(cfg *config.Loaded) (*envspec.Schema, error) {
	p := cfg.Variables.Schema
	if p == "" {
		p = "variables.yaml"
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(cfg.Dir, p)
	}
	s, err := envspec.Load(p)
	if err != nil {
		return nil, &config.Error{Msg: err.Error() + "; fix the schema (see docs/env.md)"}
	}
	return s, nil
}

// readFiles reads dotenv files given on the command line, later ones winning.
func readFiles(ctx context.Context, files []string) (map[string]provider.Variable, error) {
	out := map[string]provider.Variable{}
	for _, file := range files {
		if _, err := os.Stat(file); err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, app.Usagef("--file %s: %v", file, err)
		}
		vs, err := (&vars.Dotenv{File: file, Display: file}).Load(ctx)
		if err != nil {
			return nil, asUsage(err)
		}
		for _, v := range vs {
			out[v.Name] = v
		}
	}
	return out, nil
}

// asUsage makes a malformed dotenv file a usage error (exit 2).
func asUsage(err error) error {
	var se *vars.SyntaxError
	if errors.As(err, &se) {
		return &app.UsageError{Err: err}
	}
	return err
}

// value is the effective value of name: as set, else the schema's default.
func (r *resolved) value(name string) (string, bool) {
	if v, ok := r.vars[name]; ok && strings.TrimSpace(v.Value) != "" {
		return v.Value, true
	}
	if sv := r.schema.Var(name); sv != nil && sv.Default != nil {
		return *sv.Default, true
	}
	return "", false
}

// secrets lists the values of every secret (and unknown) variable, so
// that messages from servers can be scrubbed of them.
func (r *resolved) secrets() []string {
	var out []string
	for name, v := range r.vars {
		sv := r.schema.Var(name)
		known := sv != nil
		if (known && sv.Secret || !known && !envspec.Ambient(v.Source)) && len(v.Value) >= 4 {
			out = append(out, v.Value)
		}
	}
	return out
}

func scrub(msg string, secrets []string) string {
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, "xxxxx")
	}
	return msg
}
