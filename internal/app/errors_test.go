package app

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/deployctl/deployctl/internal/config"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/provider"
)

func TestExitCode(t *testing.T) {
	cases := []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("boom"), 1},
		{ErrFailed, 1},
		{Usagef("bad flag"), 2},
		{fmt.Errorf("load: %w", &config.Error{Msg: "unknown environment"}), 2},
		{ui.ErrNoTerminal, 2},
		{fmt.Errorf("s3: %w", &provider.ConfigError{Msg: "aws: no region"}), 2},
		{fmt.Errorf("x: %w", &provider.LockedError{Holder: provider.Holder{Actor: "ana"}}), 3},
		{fmt.Errorf("x: %w", provider.Unreachable("database", errors.New("refused"))), 4},
		{fmt.Errorf("x: %w", context.Canceled), 130},
		{&SilentError{Code: 4}, 4},
	}
	for _, c := range cases {
		if got := ExitCode(c.err); got != c.want {
			t.Errorf("ExitCode(%v) = %d; want %d", c.err, got, c.want)
		}
	}
}
