package env

import (
	"context"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/envspec"
)

// ShowOptions are the inputs of `env show`.
type ShowOptions struct {
	IO    *ui.IOStreams
	Files []string

	f *app.Factory
}

// NewCmdShow is `env show`.
func NewCmdShow(f *app.Factory, runF func(*ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{IO: f.IO, f: f}
	cmd := &cobra.Command{
		Use:   "show [--file F]...",
		Short: "Show the resolved variables and where each comes from, secrets redacted",
		Long: `Show every variable of the schema with its resolved value and its source
(dotenv:FILE:LINE, process, default, …), then any variable a file or store
sets that the schema lacks. Secret values, and the values of variables the
schema does not know, are shown as "set (44 chars, sha256:3f2a…)"; passwords
inside URLs are removed.`,
		Example: `  deployctl env show
  deployctl env show --env staging -o json
  deployctl env show --file .env.production`,
		Args: app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return showRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringArrayVar(&opts.Files, "file", nil, "show this dotenv `file` instead of the configured sources (repeatable; later wins)")
	return cmd
}

type shownVar struct {
	Name   string `json:"name"`
	Value  string `json:"value"` // redacted for secrets
	Set    bool   `json:"set"`
	Source string `json:"source"`
	Secret bool   `json:"secret"`
}

type showResult struct {
	Env       string     `json:"env"`
	Variables []shownVar `json:"variables"`
}

func showRun(ctx context.Context, o *ShowOptions) error {
	r, err := resolve(ctx, o.f, o.Files)
	if err != nil {
		return err
	}
	res := showResult{Env: r.cfg.Env, Variables: r.shown()}
	if o.f.Flags.JSON() {
		return o.IO.JSON(res)
	}
	t := o.IO.NewTable("variable", "value", "source")
	for _, v := range res.Variables {
		val := v.Value
		switch {
		case !v.Set && v.Source != "":
			val = o.IO.Theme().Faint.Render("(empty)")
		case !v.Set:
			val = o.IO.Theme().Faint.Render("(not set)")
		}
		t.Row(v.Name, val, v.Source)
	}
	return t.Render(o.IO.Out)
}

// shown lists the schema's variables in order, then the unknown ones of
// non-ambient sources, with display-safe values.
func (r *resolved) shown() []shownVar {
	var out []shownVar
	for _, sv := range r.schema.Vars {
		s := shownVar{Name: sv.Name, Secret: sv.Secret}
		if val, ok := r.value(sv.Name); ok {
			s.Value, s.Set, s.Source = envspec.Display(sv, val), true, r.vars[sv.Name].Source
			if s.Source == "" || strings.TrimSpace(r.vars[sv.Name].Value) == "" {
				s.Source = envspec.SourceDefault
			}
		} else if v, present := r.vars[sv.Name]; present {
			s.Source = v.Source // set, but empty
		}
		out = append(out, s)
	}
	var unknown []shownVar
	for name, v := range r.vars {
		if r.schema.Var(name) == nil && !envspec.Ambient(v.Source) {
			unknown = append(unknown, shownVar{Name: name, Value: envspec.Display(nil, v.Value), Set: true, Source: v.Source, Secret: true})
		}
	}
	sort.Slice(unknown, func(i, j int) bool { return unknown[i].Name < unknown[j].Name })
	return append(out, unknown...)
}
