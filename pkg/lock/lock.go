// Package lock runs the changing work of an environment under its lock,
// whichever provider keeps it (flock and holder file, a Kubernetes Lease).
package lock

import (
	"context"
	"errors"
	"fmt"

	"github.com/deployctl/deployctl/pkg/provider"
)

// Do takes l for h, runs fn and releases the lock, also when fn fails. A
// second operator gets the provider's *provider.LockedError (exit 3).
func Do(ctx context.Context, l provider.Locker, h provider.Holder, fn func(ctx context.Context) error) error {
	release, err := l.Acquire(ctx, h)
	if err != nil {
		return err
	}
	err = fn(ctx)
	if rerr := release(); rerr != nil {
		err = errors.Join(err, fmt.Errorf("release the lock: %w", rerr))
	}
	return err
}

// Holder returns who holds l now, nil when it is free or the provider cannot tell.
func Holder(ctx context.Context, l provider.Locker) *provider.Holder {
	in, ok := l.(provider.LockInspector)
	if !ok {
		return nil
	}
	h, err := in.Holder(ctx)
	if err != nil {
		return nil
	}
	return h
}
