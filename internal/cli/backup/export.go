package backup

import (
	"context"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/pkg/backup"
)

// Create backs up the environment's database for another command (release)
// and returns the new backup's id.
func Create(ctx context.Context, f *app.Factory, label string) (string, error) {
	e, cfg, err := engine(ctx, f)
	if err != nil {
		return "", err
	}
	url, err := f.DatabaseURL(ctx, "")
	if err != nil {
		return "", err
	}
	m, err := e.Create(ctx, backup.CreateOptions{DatabaseURL: url, Label: label, Recipients: cfg.Backup.Encryption.Recipients})
	if err != nil {
		return "", err
	}
	return m.ID, nil
}

// Verify proves backup id at level (checksum | archive | restore) for
// another command; problems are what is wrong with the backup.
func Verify(ctx context.Context, f *app.Factory, id, level string) ([]string, error) {
	e, _, err := engine(ctx, f)
	if err != nil {
		return nil, err
	}
	m, err := backup.Load(ctx, e.Store, id)
	if err != nil {
		return nil, err
	}
	o := &VerifyOptions{Factory: f, Flags: &DBFlags{}, Level: level}
	vo, err := o.verifyOptions(ctx, m)
	if err != nil {
		return nil, err
	}
	res, err := e.Verify(ctx, m, vo)
	if err != nil {
		return nil, err
	}
	return res.Problems, nil
}
