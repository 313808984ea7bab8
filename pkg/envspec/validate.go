package envspec

import (
	"sort"
	"strings"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/suggest"
)

// The statuses of a validated variable.
const (
	StatusOK      = "ok"
	StatusMissing = "missing" // required, set nowhere, no default
	StatusInvalid = "invalid" // set, but fails its type or a rule
	StatusBlank   = "blank"   // required, set to an empty value
	StatusUnknown = "unknown" // set in a file or store, but not in the schema
)

// SourceDefault is the source of a value taken from the schema's default.
const SourceDefault = "default"

// Result is the verdict on one variable. It never holds the value.
type Result struct {
	Name    string `json:"name"`
	Status  string `json:"status"`
	Message string `json:"message"`
	Source  string `json:"source"`
	Secret  bool   `json:"secret"`
}

// Report is the verdict on a whole set of variables.
type Report struct {
	Env       string   `json:"env"`
	OK        bool     `json:"ok"`
	Variables []Result `json:"variables"`
}

// Problems counts the results that are not ok.
func (r *Report) Problems() int {
	n := 0
	for _, v := range r.Variables {
		if v.Status != StatusOK {
			n++
		}
	}
	return n
}

// Ambient reports whether a source is the process environment, which holds
// much more than the application's variables (PATH, HOME, …): its names are
// never reported as unknown. Every other source (a dotenv file, a ConfigMap,
// a secret store) holds only the application's variables, so a name the
// schema lacks there is probably a typo and is reported.
func Ambient(source string) bool {
	return source == "process" || strings.HasPrefix(source, "process:")
}

// Validate checks vars against the schema with env's rules, and reports on
// every variable of the schema (in schema order) and then on every unknown
// one (sorted), all at once.
func (s *Schema) Validate(env string, vars map[string]provider.Variable) *Report {
	rep := &Report{Env: env, OK: true}
	for _, v := range s.Vars {
		rep.Variables = append(rep.Variables, s.validateVar(env, v, vars))
	}
	rep.Variables = append(rep.Variables, s.unknown(vars)...)
	rep.OK = rep.Problems() == 0
	return rep
}

func (s *Schema) validateVar(env string, v *Var, vars map[string]provider.Variable) Result {
	res := Result{Name: v.Name, Secret: v.Secret, Status: StatusOK}
	got, set := vars[v.Name]
	value := got.Value
	res.Source = got.Source
	required := s.Required(env, v)
	switch {
	case set && strings.TrimSpace(value) == "" && required:
		res.Status, res.Message = StatusBlank, "set but empty; give it a value"
		return res
	case set && strings.TrimSpace(value) != "":
	case v.Default != nil:
		value, res.Source = *v.Default, SourceDefault
		if set {
			res.Message = "empty, so the default applies"
		}
	case required:
		res.Status, res.Message, res.Source = StatusMissing, missingMessage(v), ""
		return res
	case set:
		res.Message = "empty (optional)"
		return res
	default:
		res.Message = "not set (optional)"
		return res
	}
	var extra *Rules
	if r := s.EnvironmentRules(env, v.Name); r != nil {
		extra = &r.Rules
	}
	probs := checkValue(v, extra, value)
	if len(probs) > 0 {
		res.Status, res.Message = StatusInvalid, strings.Join(probs, "; ")
		if res.Source == SourceDefault {
			res.Message += " (the schema's default; set the variable)"
		}
	}
	return res
}

func missingMessage(v *Var) string {
	msg := "required but not set"
	if v.Description != "" {
		msg += " (" + v.Description + ")"
	}
	return msg
}

// unknown reports the variables of non-ambient sources the schema lacks.
// Their values are treated as secret: a typo of JWT_SECRET is still a secret.
func (s *Schema) unknown(vars map[string]provider.Variable) []Result {
	var out []Result
	for name, v := range vars {
		if s.byName[name] != nil || Ambient(v.Source) || s.Ignored(name) {
			continue
		}
		msg := "not in the schema; remove it, or add it to variables.yaml"
		if near := s.nearest(name); near != "" {
			msg = "not in the schema; did you mean " + near + "?"
		}
		out = append(out, Result{Name: name, Status: StatusUnknown, Message: msg, Source: v.Source, Secret: true})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// nearest returns the schema variable whose name is within two edits of
// name, for "did you mean".
func (s *Schema) nearest(name string) string {
	names := make([]string, len(s.Vars))
	for i, v := range s.Vars {
		names[i] = v.Name
	}
	return suggest.Nearest(name, names, 2)
}
