package vars

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/deployctl/deployctl/pkg/provider"
)

// DotenvSettings are the settings of a `type: dotenv` variable source.
type DotenvSettings struct {
	Path     string `mapstructure:"path"`     // relative to the project folder; default .env
	Optional bool   `mapstructure:"optional"` // a missing file is no error (laptops without .env)
}

// Dotenv loads variables from a dotenv file.
type Dotenv struct {
	File     string // the file to read
	Display  string // how messages and sources name it (the configured path)
	Optional bool
}

var _ provider.VariableSource = (*Dotenv)(nil)

// NewDotenv is the constructor registered for `type: dotenv`.
func NewDotenv(_ context.Context, env provider.Env, d provider.Decode) (provider.VariableSource, error) {
	var s DotenvSettings
	if err := d(&s); err != nil {
		return nil, err
	}
	if s.Path == "" {
		s.Path = ".env"
	}
	file := s.Path
	if !filepath.IsAbs(file) {
		file = filepath.Join(env.BaseDir, file)
	}
	return &Dotenv{File: file, Display: s.Path, Optional: s.Optional}, nil
}

// Load reads the file; each variable's source is "dotenv:PATH:LINE".
func (d *Dotenv) Load(ctx context.Context) ([]provider.Variable, error) {
	entries, err := ReadFile(d.File, d.Display)
	if errors.Is(err, os.ErrNotExist) {
		if d.Optional {
			return nil, nil
		}
		return nil, fmt.Errorf("variables file %s does not exist: create it (cp .env.example %s) or mark the source `optional: true`", d.Display, d.Display)
	}
	if err != nil {
		var se *SyntaxError
		if errors.As(err, &se) {
			return nil, err
		}
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the message names the configured path, not this machine's
		}
		return nil, fmt.Errorf("read variables file %s: %w", d.Display, err)
	}
	out := make([]provider.Variable, 0, len(entries))
	for _, e := range entries {
		out = append(out, provider.Variable{Name: e.Name, Value: e.Value, Source: "dotenv:" + d.Display + ":" + strconv.Itoa(e.Line)})
	}
	return out, nil
}

// Process loads every variable of the process environment. Its source is
// "process"; the validator never reports its names as unknown, since the
// environment of a process holds PATH, HOME and much else besides the
// application's variables.
type Process struct {
	Environ func() []string
}

var _ provider.VariableSource = (*Process)(nil)

// NewProcess is the constructor registered for `type: process`.
func NewProcess(_ context.Context, _ provider.Env, d provider.Decode) (provider.VariableSource, error) {
	var none struct{}
	if err := d(&none); err != nil {
		return nil, err
	}
	return &Process{Environ: os.Environ}, nil
}

// Load returns the process environment.
func (p *Process) Load(ctx context.Context) ([]provider.Variable, error) {
	var out []provider.Variable
	for _, kv := range p.Environ() {
		if name, val, ok := strings.Cut(kv, "="); ok && name != "" {
			out = append(out, provider.Variable{Name: name, Value: val, Source: "process"})
		}
	}
	return out, nil
}
