package provider

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Decode fills the provider's own settings struct from its configuration
// section (mapstructure tags, as in the environment file). It keeps providers
// free of any configuration library.
type Decode func(target any) error

// Env is everything a provider is given when it is built, besides its own
// settings: which environment it serves, where local files go, how slots
// are probed, and where its notes for the operator go. Nothing reaches a
// provider later by type assertion.
type Env struct {
	Name     string
	StateDir string // the environment's local state folder
	BaseDir  string // the folder relative paths are resolved against
	Health   Health
	// Notef shows a note to the operator (stderr); nil drops notes.
	Notef func(format string, a ...any)
}

// Health is the environment's health section: the paths a slot answers
// liveness and readiness on, and how long a probe may take. Zero fields
// mean the defaults of DefaultHealth.
type Health struct {
	Path          string
	ReadinessPath string
	Timeout       time.Duration
}

// DefaultHealth is the reference deployment's health endpoints.
var DefaultHealth = Health{Path: "/health", ReadinessPath: "/health/readiness", Timeout: 5 * time.Second}

// WithDefaults fills the zero fields of h from DefaultHealth.
func (h Health) WithDefaults() Health {
	if h.Path == "" {
		h.Path = DefaultHealth.Path
	}
	if h.ReadinessPath == "" {
		h.ReadinessPath = DefaultHealth.ReadinessPath
	}
	if h.Timeout <= 0 {
		h.Timeout = DefaultHealth.Timeout
	}
	return h
}

// Note shows a note to the operator, if the environment has a way to.
func (e Env) Note(format string, a ...any) {
	if e.Notef != nil {
		e.Notef(format, a...)
	}
}

// Section is a part of the environment file that a family owns: the name an
// operator writes to choose it (traffic.provider: aws-alb, backup.storage.provider:
// s3) and the settings read from it. The settings type's mapstructure tags are
// the section's keys, its non-zero fields in a new value their defaults.
type Section struct {
	Name string
	// Settings returns a new settings value (a pointer to a struct) holding
	// the defaults. If it has a Validate() error method, loading an
	// environment that chose this section calls it.
	Settings func() any
}

// Validator is settings that check themselves when the file is loaded.
type Validator interface{ Validate() error }

// Family is one provider family: the constructors of the abilities it has.
// A nil constructor means the family lacks that ability (ErrUnsupported).
type Family struct {
	Name string
	// TrafficConfig is the traffic.provider value that selects this
	// family's traffic, maintenance, lock, state and history, with the
	// settings under traffic.<name>. Nil: the family routes no traffic.
	TrafficConfig *Section
	// StorageConfig is the backup.storage.provider value that selects this
	// family's backup store, with the settings under backup.storage.
	StorageConfig *Section
	Traffic       func(ctx context.Context, env Env, d Decode) (TrafficRouter, error)
	Maintenance   func(ctx context.Context, env Env, d Decode) (MaintenanceSwitch, error)
	Locker        func(ctx context.Context, env Env, d Decode) (Locker, error)
	State         func(ctx context.Context, env Env, d Decode) (StateStore, error)
	History       func(ctx context.Context, env Env, d Decode) (HistoryLog, error)
	BackupStore   func(ctx context.Context, env Env, d Decode) (BackupStore, error)
	// Variables maps a source type ("dotenv", "kubernetes", …) to its constructor.
	Variables map[string]func(ctx context.Context, env Env, d Decode) (VariableSource, error)
}

// Registry is the explicit list of provider families.
type Registry struct {
	families map[string]*Family
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{families: map[string]*Family{}} }

// Register adds f; registering a name twice is a programming error.
func (r *Registry) Register(f *Family) {
	if _, dup := r.families[f.Name]; dup {
		panic("provider: family registered twice: " + f.Name)
	}
	r.families[f.Name] = f
}

// Family returns the named family or an error listing the known ones.
func (r *Registry) Family(name string) (*Family, error) {
	f, ok := r.families[name]
	if !ok {
		return nil, fmt.Errorf("unknown provider %q (known: %v)", name, r.Names())
	}
	return f, nil
}

// Names lists the registered families, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.families))
	for n := range r.families {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// TrafficProvider returns the family chosen by traffic.provider: name.
func (r *Registry) TrafficProvider(name string) (*Family, error) {
	return r.bySection(name, "traffic.provider", func(f *Family) *Section { return f.TrafficConfig })
}

// StorageProvider returns the family chosen by backup.storage.provider: name.
func (r *Registry) StorageProvider(name string) (*Family, error) {
	return r.bySection(name, "backup.storage.provider", func(f *Family) *Section { return f.StorageConfig })
}

// TrafficSections lists the traffic sections of every family, by name.
func (r *Registry) TrafficSections() []*Section {
	return r.sections(func(f *Family) *Section { return f.TrafficConfig })
}

// StorageSections lists the backup storage sections of every family, by name.
func (r *Registry) StorageSections() []*Section {
	return r.sections(func(f *Family) *Section { return f.StorageConfig })
}

func (r *Registry) sections(of func(*Family) *Section) []*Section {
	var out []*Section
	for _, n := range r.Names() {
		if s := of(r.families[n]); s != nil {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (r *Registry) bySection(name, key string, of func(*Family) *Section) (*Family, error) {
	var known []string
	for _, n := range r.Names() {
		if s := of(r.families[n]); s != nil {
			if s.Name == name {
				return r.families[n], nil
			}
			known = append(known, s.Name)
		}
	}
	sort.Strings(known)
	return nil, fmt.Errorf("%s %q is not one of %s", key, name, strings.Join(known, ", "))
}

// VariableSource finds the constructor of a variable source type in any family.
func (r *Registry) VariableSource(typ string) (func(ctx context.Context, env Env, d Decode) (VariableSource, error), error) {
	var known []string
	for _, n := range r.Names() {
		for t, c := range r.families[n].Variables {
			if t == typ {
				return c, nil
			}
			known = append(known, t)
		}
	}
	sort.Strings(known)
	return nil, fmt.Errorf("unknown variable source type %q (known: %v)", typ, known)
}
