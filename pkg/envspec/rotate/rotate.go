// Package rotate is the engine of `env rotate NAME`: a new value for a
// secret variable (generated to meet the schema's rules, or given),
// written to the variable source it comes from, the old value kept as
// NAME_PREVIOUS when the application accepts one, then the slots restarted
// where the provider can. It runs under the environment's lock and records
// the rotation in the history, never a value.
package rotate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/deployctl/deployctl/pkg/envspec"
	"github.com/deployctl/deployctl/pkg/history"
	"github.com/deployctl/deployctl/pkg/lock"
	"github.com/deployctl/deployctl/pkg/provider"
)

// Command is the command name in the lock and the history.
const Command = "env rotate"

// Engine rotates secrets of one environment.
type Engine struct {
	Schema  *envspec.Schema
	Env     string
	Sources []provider.VariableSource // in order: a later one wins
	// Restarter restarts the slots after a write; nil: RestartHint says
	// what the operator restarts.
	Restarter   provider.SlotRestarter
	RestartHint string
	Lock        *lock.Guard       // nil: unlocked (engine tests)
	History     *history.Recorder // nil: none
	// Confirm is asked with the plan before anything is written (not in a
	// dry run); nil: no confirmation.
	Confirm func(plan []string) error
	Now     func() time.Time
	Rand    io.Reader // nil: crypto/rand
}

// Request is one rotation.
type Request struct {
	Name string
	// Value is the new value when given (--from-stdin); nil: generate one.
	Value  *string
	DryRun bool
}

// Result is what a rotation did. It never holds a value.
type Result struct {
	Env       string    `json:"env"`
	Name      string    `json:"name"`
	Source    string    `json:"source"` // where the value was written
	Previous  string    `json:"previous,omitempty"`
	Generated bool      `json:"generated"`
	RotatedAt time.Time `json:"rotated_at"`
	DryRun    bool      `json:"dry_run"`
	Restarted []string  `json:"restarted"`
	Restart   string    `json:"restart,omitempty"` // what to restart by hand
	Plan      []string  `json:"plan"`
}

// refuse is a rotation that cannot be done as configured (exit 2).
func refuse(format string, a ...any) error {
	return &provider.ConfigError{Msg: fmt.Sprintf(format, a...) + "; nothing was changed"}
}

// Check refuses, without I/O, what cannot be rotated: a name the schema
// lacks, a variable that is not secret, a value that fails the rules.
func (e *Engine) Check(r Request) (*envspec.Var, error) {
	v := e.Schema.Var(r.Name)
	switch {
	case v == nil:
		return nil, refuse("%s is not in the variables schema: add it with `secret: true` to rotate it", r.Name)
	case v.PreviousOf() != nil:
		return nil, refuse("%s keeps the previous value of %s: rotate %s instead", r.Name, v.PreviousOf().Name, v.PreviousOf().Name)
	case !v.Secret:
		return nil, refuse("%s is not a secret variable: only secrets are rotated; change it where it is set, or mark it `secret: true` in the schema", r.Name)
	}
	if r.Value != nil {
		if probs := e.Schema.Check(e.Env, r.Name, *r.Value); len(probs) > 0 {
			return nil, refuse("the new value of %s from stdin does not pass its rules in %s: %s", r.Name, e.Env, strings.Join(probs, "; "))
		}
	}
	return v, nil
}

// Rotate rotates r.Name under the environment's lock.
func (e *Engine) Rotate(ctx context.Context, r Request) (Result, error) {
	v, err := e.Check(r)
	if err != nil {
		return Result{}, err
	}
	var res Result
	err = e.Lock.Do(ctx, Command, func(ctx context.Context) error {
		res, err = e.rotate(ctx, v, r)
		return err
	})
	return res, err
}

// found is the source a variable's effective value comes from.
type found struct {
	src   provider.VariableSource
	label string
	value string
}

func (e *Engine) locate(ctx context.Context, name string) (found, error) {
	var f found
	for _, src := range e.Sources {
		vs, err := src.Load(ctx)
		if err != nil {
			return f, err
		}
		for _, v := range vs {
			if v.Name == name {
				f = found{src: src, label: v.Source, value: v.Value}
			}
		}
	}
	if f.src == nil {
		return f, refuse("%s is not set in any variable source of %s: set it once where the application reads it (a dotenv file, the Kubernetes Secret, the Secrets Manager secret), then rotate it", name, e.Env)
	}
	return f, nil
}

func (e *Engine) rotate(ctx context.Context, v *envspec.Var, r Request) (Result, error) {
	at := e.Now().UTC().Truncate(time.Second)
	res := Result{Env: e.Env, Name: v.Name, RotatedAt: at, DryRun: r.DryRun, Restarted: []string{}, Generated: r.Value == nil}
	f, err := e.locate(ctx, v.Name)
	if err != nil {
		return res, err
	}
	w, set, err := e.writer(f, v)
	if err != nil {
		return res, err
	}
	res.Source = w.Where()
	if v.Previous {
		res.Previous = envspec.PreviousName(v.Name)
	}
	newValue, err := e.newValue(v, r, f.value)
	if err != nil {
		return res, err
	}
	set[v.Name] = newValue
	res.Plan = e.plan(res)
	if e.Restarter == nil {
		res.Restart = e.RestartHint
	}
	if r.DryRun {
		return res, nil
	}
	if e.Confirm != nil {
		if err := e.Confirm(res.Plan); err != nil {
			return res, err
		}
	}
	err = w.WriteVariables(ctx, provider.VariableWrite{Set: set, Rotated: []string{v.Name}, At: at, Token: newToken()})
	if err != nil {
		e.record(ctx, res, f, err)
		return res, err
	}
	if e.Restarter != nil {
		res.Restarted, err = e.Restarter.RestartSlots(ctx, at)
		if err != nil {
			err = fmt.Errorf("%s was rotated in %s, but restarting the slots failed: %w; restart both slot Deployments (kubectl rollout restart) so that they read the new value", v.Name, res.Source, err)
		}
	}
	e.record(ctx, res, f, err)
	return res, err
}

// writer is f's source as a writer of v (and of NAME_PREVIOUS), with the
// values to write besides v's own.
func (e *Engine) writer(f found, v *envspec.Var) (provider.VariableWriter, map[string]string, error) {
	names := []string{v.Name}
	set := map[string]string{}
	if v.Previous {
		names = append(names, envspec.PreviousName(v.Name))
		set[envspec.PreviousName(v.Name)] = f.value
	}
	w, ok := f.src.(provider.VariableWriter)
	if !ok {
		return nil, nil, refuse("%s comes from %s, which deployctl cannot write: change it there", v.Name, f.label)
	}
	if err := w.Writable(names); err != nil {
		if errors.Is(err, provider.ErrUnsupported) {
			return nil, nil, refuse("%s comes from %s: %v", v.Name, f.label, err)
		}
		return nil, nil, err
	}
	return w, set, nil
}

func (e *Engine) newValue(v *envspec.Var, r Request, old string) (string, error) {
	if r.Value != nil {
		if *r.Value == old {
			return "", refuse("the value from stdin is %s's current value: give a new one", v.Name)
		}
		return *r.Value, nil
	}
	val, err := e.Schema.GenerateValue(e.Env, v.Name, e.Rand)
	if err != nil {
		return "", &provider.ConfigError{Msg: err.Error()}
	}
	return val, nil
}

func (e *Engine) plan(res Result) []string {
	what := "a generated value"
	if !res.Generated {
		what = "the value from stdin"
	}
	plan := []string{fmt.Sprintf("write %s as %s to %s", what, res.Name, res.Source)}
	if res.Previous != "" {
		plan = append(plan, fmt.Sprintf("keep the current value as %s, which the application accepts during the rotation", res.Previous))
	}
	if e.Restarter != nil {
		plan = append(plan, "restart both slots (rollout restart of their Deployments)")
	} else if e.RestartHint != "" {
		plan = append(plan, "then: "+e.RestartHint)
	}
	return plan
}

// record writes the history entry: names, the source and the times,
// never a value nor a hash of one.
func (e *Engine) record(ctx context.Context, res Result, f found, err error) {
	ent := provider.Entry{
		Command: Command + " " + res.Name,
		Before:  map[string]any{"variable": res.Name, "source": f.label},
		After:   map[string]any{"variable": res.Name, "source": res.Source, "rotated_at": res.RotatedAt, "previous": res.Previous, "restarted": res.Restarted},
		Result:  history.Result(err),
	}
	if err != nil {
		ent.Detail = err.Error()
	}
	e.History.Record(ctx, ent)
}

// newToken identifies one write, so that a retried one is applied once.
func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "deployctl-rotate-" + hex.EncodeToString(b)
}
