package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/deployctl/deployctl/internal/config"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/provider"
)

// The exit codes of CLI.md.
const (
	ExitOK          = 0
	ExitFailed      = 1
	ExitUsage       = 2
	ExitLocked      = 3
	ExitUnreachable = 4
	ExitInterrupted = 130
)

// UsageError is a bad flag, argument or configuration: exit 2.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a *UsageError.
func Usagef(format string, a ...any) error { return &UsageError{Err: fmt.Errorf(format, a...)} }

// SilentError is a failure the command has already reported (a failed check,
// an invalid variable): exit with Code and print nothing more.
type SilentError struct{ Code int }

func (e *SilentError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// ErrFailed is the silent exit 1 of a command that reported its findings.
var ErrFailed = &SilentError{Code: ExitFailed}

// ExitCode maps an error to the exit code of CLI.md. This is the one switch.
func ExitCode(err error) int {
	var (
		silent  *SilentError
		usage   *UsageError
		cfgErr  *config.Error
		locked  *provider.LockedError
		unreach *provider.UnreachableError
		provCfg *provider.ConfigError
	)
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &silent):
		return silent.Code
	case errors.Is(err, context.Canceled), errors.Is(err, ErrInterrupted):
		return ExitInterrupted
	case errors.As(err, &locked):
		return ExitLocked
	case errors.As(err, &unreach):
		return ExitUnreachable
	case errors.As(err, &usage), errors.As(err, &cfgErr), errors.As(err, &provCfg), errors.Is(err, ui.ErrNoTerminal):
		return ExitUsage
	}
	return ExitFailed
}

// ErrInterrupted marks work stopped by SIGINT or SIGTERM.
var ErrInterrupted = errors.New("interrupted")
