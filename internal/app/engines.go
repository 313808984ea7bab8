package app

import (
	"context"

	"github.com/deployctl/deployctl/pkg/history"
	"github.com/deployctl/deployctl/pkg/lock"
)

// What every engine that changes something is given: the one way to take
// the environment's lock and the one way to record in its history. The
// commands in internal/cli pass these to their engine and never lock or
// write history entries themselves.

// Guard is the environment's lock for an engine, holding as this process.
func (f *Factory) Guard(ctx context.Context) (*lock.Guard, error) {
	l, err := f.Locker(ctx)
	if err != nil {
		return nil, err
	}
	return &lock.Guard{Locker: l, Holder: f.Holder}, nil
}

// Recorder is the environment's audit trail for an engine: time,
// environment, actor and --reason filled in, a failed append a warning.
func (f *Factory) Recorder() *history.Recorder {
	if f.recorder == nil {
		env := f.Flags.Env
		if cfg, err := f.Config(); err == nil {
			env = cfg.Env
		}
		f.recorder = &history.Recorder{
			Open: f.History, Env: env, Actor: f.Actor(), Reason: f.Flags.Reason, Now: f.Now, Warnf: f.IO.Warnf,
		}
	}
	return f.recorder
}
