package history

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
)

// Recorder appends the entries of changing commands to the audit trail. It
// fills in what every entry has (time, environment, actor, reason) and never
// fails the command: an audit trail that cannot be written is a warning,
// since the change itself already happened.
type Recorder struct {
	// Open returns the environment's HistoryLog; it is called once, on the
	// first entry, so that commands that record nothing build nothing.
	Open   func(ctx context.Context) (provider.HistoryLog, error)
	Env    string
	Actor  string
	Reason string
	Now    func() time.Time
	// Warnf tells the operator that an entry was not recorded.
	Warnf func(format string, a ...any)

	log     provider.HistoryLog
	openErr error
	opened  bool
}

// Record appends e, filling its zero time, environment, actor and reason.
// It is safe on a nil Recorder (nothing is recorded) and runs even when ctx
// is cancelled: an interrupted command is recorded as interrupted.
func (r *Recorder) Record(ctx context.Context, e provider.Entry) {
	if r == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	log, err := r.open(ctx)
	if err == nil {
		err = log.Append(ctx, r.fill(e))
		if err != nil {
			err = fmt.Errorf("append: %w", err)
		}
	}
	if err != nil && r.Warnf != nil {
		r.Warnf("history not recorded: %v", err)
	}
}

func (r *Recorder) open(ctx context.Context) (provider.HistoryLog, error) {
	if !r.opened {
		r.opened = true
		r.log, r.openErr = r.Open(ctx)
	}
	return r.log, r.openErr
}

func (r *Recorder) fill(e provider.Entry) provider.Entry {
	if e.Time.IsZero() {
		now := time.Now
		if r.Now != nil {
			now = r.Now
		}
		e.Time = now().UTC()
	}
	if e.Env == "" {
		e.Env = r.Env
	}
	if e.Actor == "" {
		e.Actor = r.Actor
	}
	if e.Reason == "" {
		e.Reason = r.Reason
	}
	return e
}

// Result is the result word of an entry for err: ok, interrupted (Ctrl-C,
// a cancelled context) or failed.
func Result(err error) string {
	switch {
	case err == nil:
		return "ok"
	case isCanceled(err):
		return "interrupted"
	default:
		return "failed"
	}
}

func isCanceled(err error) bool { return errors.Is(err, context.Canceled) }
