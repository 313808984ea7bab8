package lock

import (
	"context"

	"github.com/deployctl/deployctl/pkg/provider"
)

// Guard is how an engine takes its environment's lock: every changing
// operation runs through Do, so that no command can change traffic,
// maintenance or the database beside another one. internal/app builds it
// for every engine that changes something.
type Guard struct {
	Locker provider.Locker
	// Holder describes this process for the command that takes the lock.
	Holder func(command string) provider.Holder
}

// Do runs fn under the lock for command. A second operator gets the
// provider's *provider.LockedError (exit 3). A nil Guard runs fn unlocked:
// only engine tests build engines without one.
func (g *Guard) Do(ctx context.Context, command string, fn func(ctx context.Context) error) error {
	if g == nil || g.Locker == nil {
		return fn(ctx)
	}
	return Do(ctx, g.Locker, g.Holder(command), fn)
}
