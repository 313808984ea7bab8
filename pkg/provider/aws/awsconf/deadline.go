package awsconf

import (
	"context"
	"errors"
	"time"

	"github.com/aws/smithy-go/middleware"
)

// DeadlineError is a call that got no answer within its deadline while the
// caller was still waiting.
type DeadlineError struct {
	D   time.Duration
	Err error
}

func (e *DeadlineError) Error() string { return "no answer within " + e.D.String() }
func (e *DeadlineError) Unwrap() error { return e.Err }

// CallDeadline gives every call of a client, retries included, at most d
// (an APIOptions entry); a call cut by it fails with *DeadlineError.
func CallDeadline(d time.Duration) func(*middleware.Stack) error {
	return func(st *middleware.Stack) error {
		return st.Initialize.Add(middleware.InitializeMiddlewareFunc("deployctlCallDeadline",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				cctx, cancel := context.WithTimeout(ctx, d)
				defer cancel()
				out, md, err := next.HandleInitialize(cctx, in)
				if err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
					err = &DeadlineError{D: d, Err: err}
				}
				return out, md, err
			}), middleware.Before)
	}
}
