package envspec

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/deployctl/deployctl/pkg/timeutil"
)

// Rotation is how often a secret must change: `rotation: {max_age: 90d}`.
// `env diff` flags a secret unchanged for longer than MaxAge.
type Rotation struct {
	MaxAge string `yaml:"max_age"`

	maxAge time.Duration
}

// Generate is how `env rotate` makes a new value: Length characters (the
// default: the rules' min_length, at least 32, at most max_length) drawn
// from Charset (default alnum).
type Generate struct {
	Length  int    `yaml:"length,omitempty"`
	Charset string `yaml:"charset,omitempty"`
}

// Charsets are the alphabets a generated value is drawn from.
var Charsets = map[string]string{
	"alnum":     "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
	"hex":       "0123456789abcdef",
	"base64url": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
	"lower":     "abcdefghijklmnopqrstuvwxyz0123456789",
}

// DefaultGenerateLength is the length of a generated secret when the rules
// ask for no more: 32 alphanumerics are about 190 bits.
const DefaultGenerateLength = 32

// PreviousSuffix names the variable that keeps a rotated-out value.
const PreviousSuffix = "_PREVIOUS"

// PreviousName is the name of the variable keeping name's previous value.
func PreviousName(name string) string { return name + PreviousSuffix }

// MaxAge is the variable's rotation.max_age; 0 when it has none.
func (v *Var) MaxAge() time.Duration {
	if v == nil || v.Rotation == nil {
		return 0
	}
	return v.Rotation.maxAge
}

// PreviousOf is the variable whose previous value a derived NAME_PREVIOUS
// holds, or nil.
func (v *Var) PreviousOf() *Var { return v.previousOf }

func checkRotation(v *Var) []error {
	var errs []error
	if (v.Previous || v.Rotation != nil || v.Generate != nil) && !v.Secret {
		errs = append(errs, errors.New("`previous`, `rotation` and `generate` apply to secret variables only; add secret: true"))
	}
	if r := v.Rotation; r != nil {
		d, err := timeutil.ParseDuration(r.MaxAge)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("rotation.max_age %q is not a positive duration such as 90d", r.MaxAge))
		}
		r.maxAge = d
	}
	if g := v.Generate; g != nil {
		if g.Charset != "" && Charsets[g.Charset] == "" {
			errs = append(errs, fmt.Errorf("generate.charset %q is not one of alnum, base64url, hex, lower", g.Charset))
		}
		if g.Length < 0 || (v.MaxLength > 0 && g.Length > v.MaxLength) || (g.Length > 0 && g.Length < v.MinLength) {
			errs = append(errs, fmt.Errorf("generate.length %d is outside min_length/max_length", g.Length))
		}
	}
	return errs
}

// derivePrevious adds NAME_PREVIOUS after every variable with previous:
// true that the schema does not list itself: a secret of the same type,
// never required, without rules (it held a valid value when it was current).
func (s *Schema) derivePrevious() {
	var out []*Var
	for _, v := range s.Vars {
		out = append(out, v)
		name := PreviousName(v.Name)
		if !v.Previous || s.byName[name] != nil {
			continue
		}
		p := &Var{Name: name, Type: v.Type, Secret: true, previousOf: v,
			Description: "the previous value of " + v.Name + ", accepted during a rotation"}
		out = append(out, p)
		s.byName[name] = p
	}
	s.Vars = out
}

// effectiveRules are the variable's rules with env's added.
func (s *Schema) effectiveRules(env string, v *Var) (lo, hi int, envRules *Rules) {
	lo, hi = v.MinLength, v.MaxLength
	if r := s.EnvironmentRules(env, v.Name); r != nil {
		envRules = &r.Rules
		lo = max(lo, r.MinLength)
		if r.MaxLength > 0 && (hi == 0 || r.MaxLength < hi) {
			hi = r.MaxLength
		}
	}
	return lo, hi, envRules
}

// Check checks one value of name against its type and rules in env and
// returns the problems, which never quote a secret.
func (s *Schema) Check(env, name, value string) []string {
	v := s.byName[name]
	if v == nil {
		return []string{name + " is not in the schema"}
	}
	if strings.TrimSpace(value) == "" {
		return []string{"the value is empty"}
	}
	_, _, extra := s.effectiveRules(env, v)
	return checkValue(v, extra, value)
}

// generateTries bounds the attempts at a value that matches a pattern.
const generateTries = 1000

// GenerateValue makes a new random value for name that passes its rules in
// env, reading randomness from rnd (nil: crypto/rand).
func (s *Schema) GenerateValue(env, name string, rnd io.Reader) (string, error) {
	v := s.byName[name]
	if v == nil {
		return "", fmt.Errorf("%s is not in the schema", name)
	}
	if v.Type != String {
		return "", fmt.Errorf("%s is of type %s: deployctl generates strings only; pass the new value with --from-stdin", name, v.Type)
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	lo, hi, _ := s.effectiveRules(env, v)
	n, charset := max(lo, DefaultGenerateLength), Charsets["alnum"]
	if hi > 0 && n > hi {
		n = hi
	}
	if g := v.Generate; g != nil {
		if g.Length > 0 {
			n = g.Length
		}
		if g.Charset != "" {
			charset = Charsets[g.Charset]
		}
	}
	if n < lo || (hi > 0 && n > hi) {
		return "", fmt.Errorf("%s: no length fits min_length %d and max_length %d in %s; fix the schema or pass the value with --from-stdin", name, lo, hi, env)
	}
	for range generateTries {
		val, err := randomString(rnd, n, charset)
		if err != nil {
			return "", fmt.Errorf("generate a value for %s: %w", name, err)
		}
		if len(s.Check(env, name, val)) == 0 {
			return val, nil
		}
	}
	return "", fmt.Errorf("%s: no generated value passes its rules in %s (pattern %q?); set generate.charset to match, or pass the value with --from-stdin", name, env, v.Pattern)
}

func randomString(rnd io.Reader, n int, charset string) (string, error) {
	b := make([]byte, n)
	limit := big.NewInt(int64(len(charset)))
	for i := range b {
		k, err := rand.Int(rnd, limit)
		if err != nil {
			return "", err
		}
		b[i] = charset[k.Int64()]
	}
	return string(b), nil
}

// subKeys are the fields of a variable's nested mappings.
var subKeys = map[string]map[string]bool{
	"rotation": {"max_age": true},
	"generate": {"length": true, "charset": true},
}

// knownSubKeys checks the fields of rotation and generate.
func knownSubKeys(body *yaml.Node) error {
	for i := 0; i+1 < len(body.Content); i += 2 {
		known, ok := subKeys[body.Content[i].Value]
		if !ok {
			continue
		}
		if err := knownKeys(body.Content[i+1], known); err != nil {
			return fmt.Errorf("%s: %w", body.Content[i].Value, err)
		}
	}
	return nil
}
