// Package config turns an environment file and DEPLOYCTL_* overrides into a
// typed Config. It is the only package that imports viper.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
	"gopkg.in/yaml.v3"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/suggest"
	"github.com/deployctl/deployctl/pkg/timeutil"
)

// EnvPrefix prefixes every environment variable override.
const EnvPrefix = "DEPLOYCTL"

// Error is a configuration error: exit code 2.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func errorf(format string, a ...any) error { return &Error{Msg: fmt.Sprintf(format, a...)} }

// Options says which environment to load and from where.
type Options struct {
	Env     string   // environment name
	Dir     string   // config dir; default "environments"
	Environ []string // os.Environ() in production; tests pass their own
	// Providers are the provider families: they own the traffic.<name> and
	// backup.storage sections, their keys, defaults and checks.
	Providers *provider.Registry
}

// Loaded is a loaded environment: the typed config, warnings for people,
// and the settings from which providers decode their own sections.
type Loaded struct {
	*Config
	Warnings []string
	v        *viper.Viper
}

// Load reads <Dir>/<Env>.yaml and applies DEPLOYCTL_* overrides.
func Load(o Options) (*Loaded, error) {
	if o.Dir == "" {
		o.Dir = "environments"
	}
	if err := checkEnvName(o.Env); err != nil {
		return nil, err
	}
	if o.Providers == nil {
		return nil, errorf("config: no provider registry (a programming error)")
	}
	file := filepath.Join(o.Dir, o.Env+".yaml")
	raw, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, unknownEnv(o.Env, o.Dir)
	}
	if err != nil {
		return nil, errorf("read %s: %v", file, err)
	}
	fileKeys, err := parseYAML(file, raw)
	if err != nil {
		return nil, err
	}
	keys := Keys(o.Providers)
	v := newViper(o.Environ, keys, Defaults(o.Providers))
	if err := v.ReadConfig(bytes.NewReader(raw)); err != nil {
		return nil, errorf("%s: %v", file, err)
	}
	cfg := &Config{}
	if err := v.Unmarshal(cfg, viper.DecodeHook(decodeHook())); err != nil {
		return nil, errorf("%s: %v; fix the value or remove the DEPLOYCTL_ override", file, err)
	}
	abs, _ := filepath.Abs(o.Dir)
	cfg.Env, cfg.Dir, cfg.BaseDir, cfg.File = o.Env, o.Dir, filepath.Dir(abs), file
	l := &Loaded{Config: cfg, v: v}
	l.Warnings = append(unknownFileKeys(file, fileKeys, keys), unknownEnvKeys(o.Environ, keys)...)
	if err := l.validate(o.Providers); err != nil {
		return nil, errorf("%s: %v", file, err)
	}
	return l, nil
}

func checkEnvName(env string) error {
	if env == "" || strings.ContainsAny(env, `/\`) || strings.HasPrefix(env, ".") {
		return errorf("invalid environment name %q", env)
	}
	return nil
}

// Environments lists the environment names in dir (the *.yaml files other
// than the variables schema).
func Environments(dir string) []string {
	matches, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	var names []string
	for _, m := range matches {
		n := strings.TrimSuffix(filepath.Base(m), ".yaml")
		if n != "variables" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

func unknownEnv(env, dir string) error {
	known := Environments(dir)
	if len(known) == 0 {
		return errorf("unknown environment %q: no environment files in %s; run `deployctl init` or pass --config-dir", env, dir)
	}
	return errorf("unknown environment %q; known environments in %s: %s", env, dir, strings.Join(known, ", "))
}

// parseYAML checks the file is well-formed YAML with a mapping at the top,
// naming file and line otherwise, and returns its flattened keys.
func parseYAML(file string, raw []byte) ([]string, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, errorf("malformed YAML in %s: %s", file, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var keys []string
	flatten("", doc, &keys)
	return keys, nil
}

func flatten(prefix string, m map[string]any, out *[]string) {
	for k, val := range m {
		key := strings.ToLower(k)
		if prefix != "" {
			key = prefix + "." + key
		}
		if sub, ok := val.(map[string]any); ok && len(sub) > 0 {
			flatten(key, sub, out)
			continue
		}
		*out = append(*out, key)
	}
}

func newViper(environ, keys []string, defaults map[string]any) *viper.Viper {
	v := viper.NewWithOptions(viper.EnvKeyReplacer(strings.NewReplacer(".", "_", "-", "_")))
	v.SetConfigType("yaml")
	v.SetEnvPrefix(EnvPrefix)
	env := envMap(environ)
	for key, def := range defaults {
		v.SetDefault(key, def)
	}
	for _, key := range keys {
		name := EnvName(key)
		if val, ok := env[name]; ok {
			v.Set(key, val)
		}
	}
	return v
}

// EnvName is the environment variable that overrides key.
func EnvName(key string) string {
	r := strings.NewReplacer(".", "_", "-", "_")
	return EnvPrefix + "_" + strings.ToUpper(r.Replace(key))
}

func envMap(environ []string) map[string]string {
	m := map[string]string{}
	for _, kv := range environ {
		if k, val, ok := strings.Cut(kv, "="); ok {
			m[k] = val
		}
	}
	return m
}

// Keys lists every configuration key: the Config struct's tags, then those
// of the settings of each section the registry's families own.
func Keys(reg *provider.Registry) []string {
	seen := map[string]bool{}
	var keys []string
	add := func(k string, _ reflect.Value) {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	walk("", reflect.ValueOf(Config{}), add)
	for _, sec := range providerSections(reg) {
		walk(sec.prefix, reflect.ValueOf(sec.Settings()), add)
	}
	sort.Strings(keys)
	return keys
}

var durationType = reflect.TypeOf(time.Duration(0))

// field is one mapstructure-tagged field: its key, or squash for an
// embedded struct whose keys are its parent's.
func field(f reflect.StructField) (key string, squash bool) {
	name, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
	if opts == "squash" {
		return "", true
	}
	return name, false
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// walk calls leaf with the key and value of every mapstructure leaf of v
// (a struct or a pointer to one); an embedded ",squash" struct's keys are
// its parent's.
func walk(prefix string, v reflect.Value, leaf func(key string, v reflect.Value)) {
	for v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f, fv := t.Field(i), v.Field(i)
		key, squash := field(f)
		switch {
		case squash:
			walk(prefix, fv, leaf)
		case key == "-" || key == "":
		case f.Type.Kind() == reflect.Struct && f.Type != durationType:
			walk(join(prefix, key), fv, leaf)
		default:
			leaf(join(prefix, key), fv)
		}
	}
}

// free-form sections whose inner keys belong to a provider or are list items.
var freeForm = []string{"variables.sources", "checklist.waivers"}

func knownNames(known map[string]bool) []string {
	names := make([]string, 0, len(known))
	for n := range known {
		names = append(names, n)
	}
	sort.Strings(names) // a tie goes the same way every time
	return names
}

func unknownFileKeys(file string, keys, all []string) []string {
	known := map[string]bool{}
	for _, k := range all {
		known[k] = true
	}
	var warns []string
	sort.Strings(keys)
	for _, k := range keys {
		if known[k] || underFreeForm(k) {
			continue
		}
		hint := "check its spelling (deployctl env keys lists them)"
		if near := suggest.Nearest(k, all, 2); near != "" {
			hint = "did you mean " + near + "?"
		}
		warns = append(warns, fmt.Sprintf("%s: unknown key %q is ignored; %s", file, k, hint))
	}
	return warns
}

func underFreeForm(k string) bool {
	for _, p := range freeForm {
		if k == p || strings.HasPrefix(k, p+".") {
			return true
		}
	}
	return false
}

// Process-level variables that are not configuration keys.
var processVars = map[string]bool{
	"DEPLOYCTL_ENV": true, "DEPLOYCTL_CONFIG_DIR": true, "DEPLOYCTL_ACTOR": true,
}

func unknownEnvKeys(environ, keys []string) []string {
	known := map[string]bool{}
	for _, k := range keys {
		known[EnvName(k)] = true
	}
	var warns []string
	for name := range envMap(environ) {
		if strings.HasPrefix(name, EnvPrefix+"_") && !known[name] && !processVars[name] {
			hint := "check its spelling"
			if near := suggest.Nearest(name, knownNames(known), 3); near != "" {
				hint = "did you mean " + near + "?"
			}
			warns = append(warns, fmt.Sprintf("environment variable %s matches no configuration key and is ignored; %s", name, hint))
		}
	}
	sort.Strings(warns)
	return warns
}

func decodeHook() mapstructure.DecodeHookFunc {
	return mapstructure.ComposeDecodeHookFunc(durationHook, timeStringHook, mapstructure.StringToSliceHookFunc(","))
}

// timeStringHook gives string fields back what was written: YAML reads an
// unquoted date (expires: 2026-12-31) or timestamp as a time.
func timeStringHook(from, to reflect.Type, data any) (any, error) {
	t, ok := data.(time.Time)
	if !ok || to.Kind() != reflect.String {
		return data, nil
	}
	if t.Equal(t.Truncate(24*time.Hour)) && t.Location() == time.UTC {
		return t.Format("2006-01-02"), nil
	}
	return t.Format(time.RFC3339Nano), nil
}

// durationHook accepts "7d" and "26h" alike for time.Duration fields.
func durationHook(from, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeOf(time.Duration(0)) {
		return data, nil
	}
	switch d := data.(type) {
	case string:
		return timeutil.ParseDuration(d)
	case int:
		return time.Duration(d) * time.Second, nil
	}
	return data, nil
}

// Decode fills target from the settings under key (for providers, which
// keep their own settings structs with the same mapstructure tags).
func (l *Loaded) Decode(key string, target any) error {
	if err := l.decode(key, target); err != nil {
		return errorf("%s: section %s: %v", l.File, key, err)
	}
	return nil
}

// decode is Decode with the mapstructure error as it is.
func (l *Loaded) decode(key string, target any) error {
	sub := l.v.AllSettings()
	var cur any = sub
	for _, part := range strings.Split(key, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			cur = nil
			break
		}
		cur = m[part]
	}
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		DecodeHook: decodeHook(), Result: target, WeaklyTypedInput: true,
	})
	if err != nil {
		return err
	}
	return dec.Decode(cur)
}

// Path resolves a configured path against the project folder.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.BaseDir, p)
}

// DecodeMap fills target from m with the same rules as the environment file;
// where names the section in errors.
func DecodeMap(m map[string]any, target any, where string) error {
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		DecodeHook: decodeHook(), Result: target, WeaklyTypedInput: true,
	})
	if err != nil {
		return err
	}
	if err := dec.Decode(m); err != nil {
		return errorf("%s: %v", where, err)
	}
	return nil
}
