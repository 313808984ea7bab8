// Package envspec is the schema of an application's environment variables
// (variables.yaml): each variable's type, whether it is required, its default,
// whether it is secret, and stricter rules per environment. Validate checks a
// set of variables against it and reports every problem at once.
package envspec

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/deployctl/deployctl/pkg/timeutil"
)

// Type is the type of a variable's value.
type Type string

// The types a variable can have.
const (
	String   Type = "string"
	Int      Type = "int"
	Port     Type = "port"
	Enum     Type = "enum"
	URL      Type = "url"
	Duration Type = "duration"
	Hostname Type = "hostname"
	Email    Type = "email"
	Origins  Type = "origins"
)

// Types lists every type, in the order the documentation gives them.
var Types = []Type{String, Int, Port, Enum, URL, Duration, Hostname, Email, Origins}

// Rules are checks on a value beyond its type. They appear on a variable
// (always checked) and under environments.<name>.<VAR> (checked in that
// environment as well: the rules add up, they never loosen).
type Rules struct {
	MinLength      int      `yaml:"min_length,omitempty"`
	MaxLength      int      `yaml:"max_length,omitempty"`
	Pattern        string   `yaml:"pattern,omitempty"`         // regular expression the whole value must match
	Values         []string `yaml:"values,omitempty"`          // enum values; in an environment: the allowed subset
	Schemes        []string `yaml:"schemes,omitempty"`         // url: allowed schemes
	Min            string   `yaml:"min,omitempty"`             // int, port: number; duration: duration
	Max            string   `yaml:"max,omitempty"`             // as Min
	HTTPSOnly      bool     `yaml:"https_only,omitempty"`      // url, origins
	NoWildcard     bool     `yaml:"no_wildcard,omitempty"`     // origins: no "*" and no "*.example.com"
	NoLocalhost    bool     `yaml:"no_localhost,omitempty"`    // url, hostname, origins, email
	NotPlaceholder bool     `yaml:"not_placeholder,omitempty"` // not a known placeholder such as "changeme"
	RequireTLS     bool     `yaml:"require_tls,omitempty"`     // url: to a host that is not local, only with TLS

	re *regexp.Regexp
}

// Var is one variable of the schema.
type Var struct {
	Name        string  `yaml:"-"`
	Type        Type    `yaml:"type"`
	Description string  `yaml:"description,omitempty"`
	Required    bool    `yaml:"required,omitempty"`
	Default     *string `yaml:"default,omitempty"`
	Secret      bool    `yaml:"secret,omitempty"`
	// Previous says the application also accepts NAME_PREVIOUS (a secret
	// being rotated out, as JWT verification needs): `env rotate` keeps the
	// old value there, and the schema knows NAME_PREVIOUS without listing it.
	Previous bool      `yaml:"previous,omitempty"`
	Rotation *Rotation `yaml:"rotation,omitempty"`
	Generate *Generate `yaml:"generate,omitempty"`
	Rules    `yaml:",inline"`

	// previousOf is the variable a derived NAME_PREVIOUS belongs to.
	previousOf *Var
}

// EnvRules are the extra rules of one variable in one environment.
type EnvRules struct {
	Required *bool `yaml:"required,omitempty"` // overrides the variable's required
	Rules    `yaml:",inline"`
}

// Schema is a parsed variables.yaml.
type Schema struct {
	Vars []*Var // in file order
	// Environments maps an environment name to its rules per variable.
	Environments map[string]map[string]*EnvRules
	// IgnoreUnknown holds name patterns (path.Match globs such as "NPM_*")
	// that are not reported as unknown.
	IgnoreUnknown []string

	byName map[string]*Var
}

type rawSchema struct {
	Variables     yaml.Node                       `yaml:"variables"`
	Environments  map[string]map[string]*EnvRules `yaml:"environments"`
	IgnoreUnknown []string                        `yaml:"ignore_unknown"`
}

// Load reads and parses the schema file at file.
func Load(file string) (*Schema, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read variables schema: %w", err)
	}
	s, err := Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return s, nil
}

// Parse parses a schema document; unknown fields are errors (a typo in a
// rule must not switch the rule off silently).
func Parse(raw []byte) (*Schema, error) {
	var rs rawSchema
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&rs); err != nil {
		return nil, fmt.Errorf("malformed schema: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	s := &Schema{Environments: rs.Environments, IgnoreUnknown: rs.IgnoreUnknown, byName: map[string]*Var{}}
	if err := s.decodeVars(&rs.Variables); err != nil {
		return nil, err
	}
	if len(s.Vars) == 0 {
		return nil, errors.New("the schema defines no variables: add them under `variables:`")
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	s.derivePrevious()
	return s, nil
}

func (s *Schema) decodeVars(n *yaml.Node) error {
	if n.Kind == 0 {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: `variables` must be a mapping of NAME: {type: …}", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		name, body := n.Content[i].Value, n.Content[i+1]
		v := &Var{}
		if err := knownKeys(body, varKeys); err != nil {
			return fmt.Errorf("variable %s: %w", name, err)
		}
		if err := knownSubKeys(body); err != nil {
			return fmt.Errorf("variable %s: %w", name, err)
		}
		if err := body.Decode(v); err != nil {
			return fmt.Errorf("variable %s (line %d): %s", name, body.Line, strings.TrimPrefix(err.Error(), "yaml: "))
		}
		if _, dup := s.byName[name]; dup {
			return fmt.Errorf("variable %s (line %d) is defined twice", name, n.Content[i].Line)
		}
		v.Name = name
		s.Vars = append(s.Vars, v)
		s.byName[name] = v
	}
	return nil
}

// varKeys are the fields a variable may have. yaml.v3 checks known fields
// only when decoding a whole document, so the variables (decoded one node
// at a time to keep their order) are checked here.
var varKeys = map[string]bool{
	"type": true, "description": true, "required": true, "default": true, "secret": true,
	"min_length": true, "max_length": true, "pattern": true, "values": true, "schemes": true,
	"min": true, "max": true, "https_only": true, "no_wildcard": true, "no_localhost": true, "not_placeholder": true,
	"require_tls": true, "previous": true, "rotation": true, "generate": true,
}

func knownKeys(n *yaml.Node, known map[string]bool) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: give a mapping such as {type: string}", n.Line)
	}
	for i := 0; i < len(n.Content); i += 2 {
		if k := n.Content[i]; !known[k.Value] {
			return fmt.Errorf("line %d: unknown field %q; check its spelling", k.Line, k.Value)
		}
	}
	return nil
}

var namePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// check reports every mistake in the schema at once.
func (s *Schema) check() error {
	var errs []error
	for _, v := range s.Vars {
		errs = append(errs, s.checkVar(v)...)
	}
	for env, rules := range s.Environments {
		for name, r := range rules {
			v, ok := s.byName[name]
			if !ok {
				errs = append(errs, fmt.Errorf("environments.%s.%s: no such variable in `variables`", env, name))
				continue
			}
			if r == nil {
				rules[name] = &EnvRules{}
				continue
			}
			for _, err := range checkRules(v.Type, &r.Rules) {
				errs = append(errs, fmt.Errorf("environments.%s.%s: %w", env, name, err))
			}
		}
	}
	for _, p := range s.IgnoreUnknown {
		if _, err := path.Match(p, ""); err != nil {
			errs = append(errs, fmt.Errorf("ignore_unknown: bad pattern %q", p))
		}
	}
	return errors.Join(errs...)
}

func (s *Schema) checkVar(v *Var) []error {
	var errs []error
	if !namePattern.MatchString(v.Name) {
		errs = append(errs, fmt.Errorf("variable %q: a name is letters, digits and underscores", v.Name))
	}
	if !validType(v.Type) {
		errs = append(errs, fmt.Errorf("variable %s: unknown type %q (use one of %s)", v.Name, v.Type, typeList()))
		return errs
	}
	if v.Type == Enum && len(v.Values) == 0 {
		errs = append(errs, fmt.Errorf("variable %s: an enum needs `values`", v.Name))
	}
	for _, err := range checkRules(v.Type, &v.Rules) {
		errs = append(errs, fmt.Errorf("variable %s: %w", v.Name, err))
	}
	for _, err := range checkRotation(v) {
		errs = append(errs, fmt.Errorf("variable %s: %w", v.Name, err))
	}
	if v.Default != nil && len(errs) == 0 {
		if probs := checkValue(v, nil, *v.Default); len(probs) > 0 {
			errs = append(errs, fmt.Errorf("variable %s: the default does not pass its own checks: %s", v.Name, strings.Join(probs, "; ")))
		}
	}
	return errs
}

// checkRules validates the rule parameters themselves for type t.
func checkRules(t Type, r *Rules) []error {
	var errs []error
	if r.Pattern != "" {
		re, err := regexp.Compile(`^(?:` + r.Pattern + `)$`)
		if err != nil {
			errs = append(errs, fmt.Errorf("bad pattern %q: %v", r.Pattern, err))
		}
		r.re = re
	}
	for _, b := range []struct{ key, val string }{{"min", r.Min}, {"max", r.Max}} {
		if b.val == "" {
			continue
		}
		if err := checkBound(t, b.val); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", b.key, err))
		}
	}
	if len(r.Schemes) > 0 && t != URL {
		errs = append(errs, fmt.Errorf("`schemes` applies to type url only"))
	}
	if (r.HTTPSOnly || r.NoWildcard) && t != URL && t != Origins {
		errs = append(errs, fmt.Errorf("`https_only` and `no_wildcard` apply to types url and origins only"))
	}
	if r.RequireTLS && t != URL {
		errs = append(errs, fmt.Errorf("`require_tls` applies to type url only"))
	}
	return errs
}

func checkBound(t Type, val string) error {
	switch t {
	case Int, Port:
		if _, err := strconv.ParseInt(val, 10, 64); err != nil {
			return fmt.Errorf("%q is not a whole number", val)
		}
	case Duration:
		if _, err := timeutil.ParseDuration(val); err != nil {
			return fmt.Errorf("%q is not a duration such as 15m or 7d", val)
		}
	default:
		return fmt.Errorf("min and max apply to int, port and duration (use min_length for strings)")
	}
	return nil
}

func validType(t Type) bool {
	for _, x := range Types {
		if t == x {
			return true
		}
	}
	return false
}

func typeList() string {
	names := make([]string, len(Types))
	for i, t := range Types {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

// Var returns the named variable, or nil.
func (s *Schema) Var(name string) *Var { return s.byName[name] }

// EnvironmentRules returns the rules of v in env, or nil.
func (s *Schema) EnvironmentRules(env, name string) *EnvRules {
	return s.Environments[env][name]
}

// Required reports whether v must be set in env.
func (s *Schema) Required(env string, v *Var) bool {
	if r := s.EnvironmentRules(env, v.Name); r != nil && r.Required != nil {
		return *r.Required
	}
	return v.Required
}

// Ignored reports whether an unknown name matches IgnoreUnknown.
func (s *Schema) Ignored(name string) bool {
	for _, p := range s.IgnoreUnknown {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}
