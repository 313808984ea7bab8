package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/deployctl/deployctl/internal/config"
	"github.com/deployctl/deployctl/pkg/backup"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/copies"
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
	primary, err := fam.BackupStore(ctx, f.Env(cfg), func(t any) error { return cfg.Decode("backup.storage", t) })
	if err != nil || len(cfg.Backup.Storage.Copies) == 0 {
		return primary, err
	}
	return f.copiesStore(ctx, cfg, primary)
}

// copiesStore puts the primary store and backup.storage.copies behind one
// copies.Store (geo-redundant copies).
func (f *Factory) copiesStore(ctx context.Context, cfg *config.Loaded, primary provider.BackupStore) (provider.BackupStore, error) {
	stores := []copies.Named{{Name: f.StorageName(), Store: primary}}
	seen := map[string]bool{stores[0].Name: true}
	for i, raw := range cfg.Backup.Storage.Copies {
		key := config.CopyKey(i)
		name, _ := raw["provider"].(string)
		fam, err := f.Registry.StorageProvider(name)
		if err != nil {
			return nil, &config.Error{Msg: key + ": " + err.Error()}
		}
		if fam.BackupStore == nil {
			return nil, unsupported(fam, key)
		}
		dec := func(t any) error { return cfg.DecodeCopy(i, t) }
		st, err := fam.BackupStore(ctx, f.Env(cfg), dec)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		label := name
		if s, ok := fam.StorageConfig.Settings().(fmt.Stringer); ok && dec(s) == nil {
			label = s.String()
		}
		if seen[label] {
			label = fmt.Sprintf("%s (%s)", label, key)
		}
		seen[label] = true
		stores = append(stores, copies.Named{Name: label, Store: st})
	}
	return &copies.Store{Stores: stores, Min: cfg.Backup.Storage.MinCopies, Stall: cfg.Backup.Storage.StallTimeout,
		OneCopy: readerObject, Notef: f.Notef, Warnf: f.IO.Warnf}, nil
}

// readerObject is what a verify or restore writes beside a backup (its read
// lease, the verification result): one reachable store is enough for it,
// while min_copies holds for the backup's own objects and the WAL.
func readerObject(name string) bool {
	return strings.Contains(name, "/leases/") || strings.HasSuffix(name, "/"+backup.VerifyObject)
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
