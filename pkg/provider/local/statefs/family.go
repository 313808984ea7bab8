package statefs

import (
	"context"
	"path/filepath"

	"github.com/deployctl/deployctl/pkg/provider"
)

// The constructors local.Family wires in. They need nothing from the
// configuration beyond the state folder.

// NewLocker is the local family's Locker: take-over notes go to the operator.
func NewLocker(_ context.Context, env provider.Env, _ provider.Decode) (provider.Locker, error) {
	return &Locker{Dir: Root(env.StateDir, env.Name), Notef: env.Notef}, nil
}

// NewState is the local family's StateStore.
func NewState(_ context.Context, env provider.Env, _ provider.Decode) (provider.StateStore, error) {
	return &Store{Dir: StateDir(env)}, nil
}

// NewHistory is the local family's HistoryLog.
func NewHistory(_ context.Context, env provider.Env, _ provider.Decode) (provider.HistoryLog, error) {
	return &History{Dir: Root(env.StateDir, env.Name)}, nil
}

// StateDir is where the environment's state documents live.
func StateDir(env provider.Env) string {
	return filepath.Join(Root(env.StateDir, env.Name), "state")
}
