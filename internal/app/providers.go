package app

import (
	"context"
	"fmt"

	"github.com/deployctl/deployctl/internal/config"
	"github.com/deployctl/deployctl/pkg/provider"
)

// Env is the provider.Env of the loaded configuration: what every provider
// is built with, its notes shown on the command's stderr.
func (f *Factory) Env(cfg *config.Loaded) provider.Env {
	h := cfg.Health
	return provider.Env{
		Name: cfg.Env, StateDir: cfg.Path(cfg.State.Dir), BaseDir: cfg.BaseDir,
		Health: provider.Health{Path: h.Path, ReadinessPath: h.ReadinessPath, Timeout: h.Timeout}.WithDefaults(),
		Notef:  f.Notef,
	}
}

// Notef shows a note to the operator on stderr.
func (f *Factory) Notef(format string, a ...any) { f.IO.Printf("note: "+format+"\n", a...) }

func (f *Factory) trafficFamily() (*provider.Family, *config.Loaded, provider.Decode, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, nil, nil, err
	}
	name := cfg.Traffic.Provider
	fam, err := f.Registry.TrafficProvider(name)
	if err != nil {
		return nil, nil, nil, &config.Error{Msg: err.Error()}
	}
	key := "traffic." + name
	return fam, cfg, func(target any) error { return cfg.Decode(key, target) }, nil
}

func unsupported(fam *provider.Family, what string) error {
	return fmt.Errorf("%s: %w (provider %s)", what, provider.ErrUnsupported, fam.Name)
}

// Traffic builds the environment's traffic router.
func (f *Factory) Traffic(ctx context.Context) (provider.TrafficRouter, error) {
	fam, cfg, dec, err := f.trafficFamily()
	if err != nil {
		return nil, err
	}
	if fam.Traffic == nil {
		return nil, unsupported(fam, "traffic")
	}
	return fam.Traffic(ctx, f.Env(cfg), dec)
}

// Maintenance builds the environment's maintenance switch.
func (f *Factory) Maintenance(ctx context.Context) (provider.MaintenanceSwitch, error) {
	fam, cfg, dec, err := f.trafficFamily()
	if err != nil {
		return nil, err
	}
	if fam.Maintenance == nil {
		return nil, unsupported(fam, "maintenance")
	}
	return fam.Maintenance(ctx, f.Env(cfg), dec)
}

// Locker builds the environment's lock, from the traffic provider's family.
func (f *Factory) Locker(ctx context.Context) (provider.Locker, error) {
	if l, ok := f.lentLocker(); ok {
		return l, nil // held by this process for the whole command (held.go)
	}
	fam, cfg, dec, err := f.trafficFamily()
	if err != nil {
		return nil, err
	}
	if fam.Locker == nil {
		return nil, unsupported(fam, "lock")
	}
	return fam.Locker(ctx, f.Env(cfg), dec)
}

// State builds the environment's state store.
func (f *Factory) State(ctx context.Context) (provider.StateStore, error) {
	fam, cfg, dec, err := f.trafficFamily()
	if err != nil {
		return nil, err
	}
	if fam.State == nil {
		return nil, unsupported(fam, "state")
	}
	return fam.State(ctx, f.Env(cfg), dec)
}

// History builds the environment's audit trail.
func (f *Factory) History(ctx context.Context) (provider.HistoryLog, error) {
	fam, cfg, dec, err := f.trafficFamily()
	if err != nil {
		return nil, err
	}
	if fam.History == nil {
		return nil, unsupported(fam, "history")
	}
	return fam.History(ctx, f.Env(cfg), dec)
}

// BackupStore builds the environment's backup storage.
func (f *Factory) BackupStore(ctx context.Context) (provider.BackupStore, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	fam, err := f.Registry.StorageProvider(cfg.Backup.Storage.Provider)
	if err != nil {
		return nil, &config.Error{Msg: err.Error()}
	}
	if fam.BackupStore == nil {
		return nil, unsupported(fam, "backup storage")
	}
	return fam.BackupStore(ctx, f.Env(cfg), func(t any) error { return cfg.Decode("backup.storage", t) })
}

// StorageName names the environment's backup storage for people, as its
// provider's settings describe themselves ("folder backups", "s3://b/p").
func (f *Factory) StorageName() string {
	cfg, err := f.Config()
	if err != nil {
		return "backup storage"
	}
	name := cfg.Backup.Storage.Provider
	fam, err := f.Registry.StorageProvider(name)
	if err != nil {
		return name
	}
	s := fam.StorageConfig.Settings()
	if str, ok := s.(fmt.Stringer); ok && cfg.Decode("backup.storage", s) == nil {
		return str.String()
	}
	return name
}

// VariableSources builds the configured variable sources, in order.
func (f *Factory) VariableSources(ctx context.Context) ([]provider.VariableSource, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	var out []provider.VariableSource
	for i, raw := range cfg.Variables.Sources {
		typ, _ := raw["type"].(string)
		ctor, err := f.Registry.VariableSource(typ)
		if err != nil {
			return nil, &config.Error{Msg: fmt.Sprintf("%s: variables.sources[%d]: %v", cfg.File, i, err)}
		}
		key := fmt.Sprintf("variables.sources[%d]", i)
		src, err := ctor(ctx, f.Env(cfg), func(t any) error { return config.DecodeMap(raw, t, cfg.File+": "+key) })
		if err != nil {
			return nil, err
		}
		out = append(out, src)
	}
	return out, nil
}
