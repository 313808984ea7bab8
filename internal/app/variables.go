package app

import (
	"context"

	"github.com/deployctl/deployctl/pkg/provider"
)

// Variables loads the environment's application variables from its
// configured sources, in order: a later source overrides an earlier one
// (the process environment over the .env file, as applications do).
func (f *Factory) Variables(ctx context.Context) (map[string]provider.Variable, error) {
	srcs, err := f.VariableSources(ctx)
	if err != nil {
		return nil, err
	}
	vars := map[string]provider.Variable{}
	for _, s := range srcs {
		vs, err := s.Load(ctx)
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			vars[v.Name] = v
		}
	}
	return vars, nil
}

// DatabaseURL resolves the database to work on: the --database-url flag,
// else database.url, else the variable named by database.url_from
// (DATABASE_URL) from the environment's variable sources. The URL may hold
// a password: show it only through postgres.Redact.
func (f *Factory) DatabaseURL(ctx context.Context, flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	cfg, err := f.Config()
	if err != nil {
		return "", err
	}
	if cfg.Database.URL != "" {
		return cfg.Database.URL, nil
	}
	vars, err := f.Variables(ctx)
	if err != nil {
		return "", err
	}
	if v, ok := vars[cfg.Database.URLFrom]; ok && v.Value != "" {
		return v.Value, nil
	}
	return "", Usagef("no database URL: pass --database-url, set database.url in %s, or set %s in the environment's variables", cfg.File, cfg.Database.URLFrom)
}
