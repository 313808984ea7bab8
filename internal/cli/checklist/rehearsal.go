package checklist

import (
	"context"
	"errors"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/pkg/checklist"
)

// loadRehearsal reads the rehearsal record of a migration set.
// TODO(issue 7): wire migrate.LoadRehearsal when `migrate rehearse` lands.
func loadRehearsal(ctx context.Context, f *app.Factory, hash string) (*checklist.Rehearsal, error) {
	return nil, errors.New("this deployctl cannot read rehearsal records yet")
}
