package rollout

import (
	"context"

	"github.com/deployctl/deployctl/pkg/provider"
)

// LoadState reads the rollout state, Initial when there is none yet.
func LoadState(ctx context.Context, st provider.StateStore) (State, error) {
	s, _, err := load(ctx, st)
	return s, err
}
