package checklist

import (
	"context"
	"errors"
	"time"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/pkg/checklist"
	"github.com/deployctl/deployctl/pkg/migrate"
	"github.com/deployctl/deployctl/pkg/provider"
)

// loadRehearsal reads what `migrate rehearse` recorded for a migration set
// in the environment's state store; nil when the set was never rehearsed.
func loadRehearsal(ctx context.Context, f *app.Factory, hash string) (*checklist.Rehearsal, error) {
	store, err := f.State(ctx)
	if err != nil {
		return nil, err
	}
	r, err := migrate.LoadRehearsal(ctx, store, hash)
	if errors.Is(err, provider.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ms int64
	for _, m := range r.Migrations {
		ms += max(m.UpMS, 0) + max(m.DownMS, 0) + max(m.UpAgainMS, 0)
	}
	return &checklist.Rehearsal{At: r.At, OK: r.OK, Took: time.Duration(ms) * time.Millisecond, Detail: r.Error}, nil
}
