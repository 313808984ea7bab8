package env

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/envspec"
	"github.com/deployctl/deployctl/pkg/timeutil"
)

// DiffOptions are the inputs of `env diff`.
type DiffOptions struct {
	IO   *ui.IOStreams
	EnvA string
	EnvB string

	f *app.Factory
}

// NewCmdDiff is `env diff ENV_A ENV_B`.
func NewCmdDiff(f *app.Factory, runF func(*DiffOptions) error) *cobra.Command {
	opts := &DiffOptions{IO: f.IO, f: f}
	cmd := &cobra.Command{
		Use:   "diff ENV_A ENV_B",
		Short: "Compare the variables of two environments",
		Long: `Compare the variables two environments resolve from their configured sources:
names set on one side only, and values that differ. Secret values are
compared by their sha256 and never shown. The same secret set in both
environments is a warning: each environment should have its own. So is a
secret with a rotation.max_age in the schema that its source (a dotenv
file, a Kubernetes Secret, Secrets Manager) records as unchanged for longer,
or as never rotated: rotate it with env rotate.
Exit status 0 whatever the differences (they are expected between
environments); 2 for an unknown environment.`,
		Example: `  deployctl env diff staging production
  deployctl env diff development staging -o json`,
		Args:              app.ExactArgs(2),
		ValidArgsFunction: completeEnvs(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.EnvA, opts.EnvB = args[0], args[1]
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return diffRun(cmd.Context(), opts)
		},
	}
	return cmd
}

func (o *DiffOptions) validate() error {
	if o.EnvA == o.EnvB {
		return app.Usagef("env diff needs two different environments, got %q twice", o.EnvA)
	}
	return nil
}

// The states of a compared variable.
const (
	diffSame    = "same"
	diffDiffers = "differs"
	diffOnlyA   = "only_a"
	diffOnlyB   = "only_b"
)

type diffVar struct {
	Name   string `json:"name"`
	State  string `json:"state"` // same | differs | only_a | only_b
	Secret bool   `json:"secret"`
	A      string `json:"a"` // display-safe values; "" when not set
	B      string `json:"b"`
	// Stale lists the environments where the secret is older than its
	// rotation.max_age, or has no recorded rotation.
	Stale []string `json:"stale,omitempty"`
}

type diffResult struct {
	A         string    `json:"a"`
	B         string    `json:"b"`
	Variables []diffVar `json:"variables"`
	Warnings  []string  `json:"warnings"`
}

func diffRun(ctx context.Context, o *DiffOptions) error {
	a, err := o.load(ctx, o.EnvA)
	if err != nil {
		return err
	}
	b, err := o.load(ctx, o.EnvB)
	if err != nil {
		return err
	}
	res := compare(o.EnvA, o.EnvB, a, b)
	res.flagStale(o.f.Now(), side{o.EnvA, a}, side{o.EnvB, b})
	for _, w := range res.Warnings {
		o.IO.Warnf("%s", w)
	}
	if o.f.Flags.JSON() {
		return o.IO.JSON(res)
	}
	return renderDiff(o.IO, res)
}

// load resolves another environment than --env, with the same flags.
func (o *DiffOptions) load(ctx context.Context, env string) (*resolved, error) {
	return resolveWith(ctx, forEnv(o.f, env), nil, true)
}

// forEnv is f for another environment than --env, with the same flags.
func forEnv(f *app.Factory, env string) *app.Factory {
	flags := *f.Flags
	flags.Env = env
	return &app.Factory{IO: f.IO, Flags: &flags, Environ: f.Environ, Now: f.Now, Registry: f.Registry}
}

// setValues are the names a side sets explicitly (defaults do not count),
// leaving out the ambient process variables the schema does not know.
func (r *resolved) setValues() map[string]string {
	out := map[string]string{}
	for name, v := range r.vars {
		if strings.TrimSpace(v.Value) == "" || (r.schema.Var(name) == nil && envspec.Ambient(v.Source)) {
			continue
		}
		out[name] = v.Value
	}
	return out
}

func compare(nameA, nameB string, a, b *resolved) diffResult {
	res := diffResult{A: nameA, B: nameB, Variables: []diffVar{}, Warnings: []string{}}
	va, vb := a.setValues(), b.setValues()
	for _, name := range union(va, vb) {
		sa, sb := a.schema.Var(name), b.schema.Var(name)
		secret := sa == nil || sb == nil || sa.Secret || sb.Secret
		spec := sa
		if spec == nil {
			spec = sb
		}
		if secret {
			spec = &envspec.Var{Name: name, Type: typeOf(spec), Secret: true}
		}
		d := diffVar{Name: name, Secret: secret}
		x, inA := va[name]
		y, inB := vb[name]
		if inA {
			d.A = envspec.Display(spec, x)
		}
		if inB {
			d.B = envspec.Display(spec, y)
		}
		switch {
		case !inB:
			d.State = diffOnlyA
		case !inA:
			d.State = diffOnlyB
		case envspec.Hash(x) == envspec.Hash(y):
			d.State = diffSame
			if secret {
				res.Warnings = append(res.Warnings, fmt.Sprintf("%s: the same secret is set in %s and %s; give each environment its own", name, nameA, nameB))
			}
		default:
			d.State = diffDiffers
		}
		res.Variables = append(res.Variables, d)
	}
	return res
}

func typeOf(v *envspec.Var) envspec.Type {
	if v == nil {
		return envspec.String
	}
	return v.Type
}

func union(a, b map[string]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range []map[string]string{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

func renderDiff(io *ui.IOStreams, res diffResult) error {
	label := map[string]string{diffDiffers: "differs", diffOnlyA: "only in " + res.A, diffOnlyB: "only in " + res.B}
	t := io.NewTable("variable", res.A, res.B, "difference")
	same := 0
	for _, v := range res.Variables {
		if v.State == diffSame {
			same++
			continue
		}
		t.Row(v.Name, orDash(v.A), orDash(v.B), label[v.State])
	}
	if t.Len() > 0 {
		if err := t.Render(io.Out); err != nil {
			return err
		}
		fmt.Fprintln(io.Out)
	}
	_, err := fmt.Fprintf(io.Out, "%d differ, %d the same\n", t.Len(), same)
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func completeEnvs(f *app.Factory) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		return configEnvironments(f), cobra.ShellCompDirectiveNoFileComp
	}
}

// side is one environment of a diff.
type side struct {
	env string
	r   *resolved
}

// flagStale warns of every secret with a rotation.max_age that one side
// has kept longer than that, or whose source records no rotation of it.
func (res *diffResult) flagStale(now time.Time, sides ...side) {
	for i := range res.Variables {
		d := &res.Variables[i]
		for _, s := range sides {
			if msg := s.r.staleness(d.Name, now); msg != "" {
				d.Stale = append(d.Stale, s.env)
				res.Warnings = append(res.Warnings, fmt.Sprintf("%s in %s: %s; run deployctl -e %s env rotate %s", d.Name, s.env, msg, s.env, d.Name))
			}
		}
	}
}

// staleness says why name is due for rotation, or "".
func (r *resolved) staleness(name string, now time.Time) string {
	v := r.schema.Var(name)
	if _, set := r.vars[name]; !set || !r.timed[name] || v.MaxAge() == 0 {
		return ""
	}
	at := r.rotated[name]
	if at.IsZero() {
		return fmt.Sprintf("no rotation recorded (its rotation.max_age is %s)", timeutil.FormatDuration(v.MaxAge()))
	}
	if age := now.Sub(at); age > v.MaxAge() {
		return fmt.Sprintf("unchanged since %s (%s), longer than its rotation.max_age %s", at.UTC().Format(time.RFC3339),
			timeutil.FormatDuration(age.Truncate(time.Hour)), timeutil.FormatDuration(v.MaxAge()))
	}
	return ""
}
