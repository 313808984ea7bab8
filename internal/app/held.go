package app

import (
	"context"
	"sync"

	"github.com/deployctl/deployctl/pkg/provider"
)

// A command that runs other engines one after the other (release) holds the
// environment's lock from its first step to its last. The engines it runs
// take the lock as always; while it is held by this process, Locker gives
// them a lent lock that is already theirs, instead of the real one that
// would refuse them.

// lent holds the factories whose process holds the lock for a whole command.
var lent sync.Map // *Factory → struct{}

// HoldingLocker is the environment's lock for a command that lends it to
// the engines it runs while it holds it.
func (f *Factory) HoldingLocker(ctx context.Context) (provider.Locker, error) {
	l, err := f.Locker(ctx)
	if err != nil {
		return nil, err
	}
	return holding{Locker: l, f: f}, nil
}

type holding struct {
	provider.Locker
	f *Factory
}

func (h holding) Acquire(ctx context.Context, who provider.Holder) (func() error, error) {
	release, err := h.Locker.Acquire(ctx, who)
	if err != nil {
		return nil, err
	}
	lent.Store(h.f, struct{}{})
	return func() error {
		lent.Delete(h.f)
		return release()
	}, nil
}

// lentLock is the lock an engine is given while this process holds it.
type lentLock struct{}

func (lentLock) Acquire(context.Context, provider.Holder) (func() error, error) {
	return func() error { return nil }, nil
}

// lentLocker returns the lent lock while f's command holds the lock.
func (f *Factory) lentLocker() (provider.Locker, bool) {
	if _, ok := lent.Load(f); ok {
		return lentLock{}, true
	}
	return nil, false
}
