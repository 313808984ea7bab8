package app

import (
	"strings"

	"github.com/spf13/cobra"
)

// Usage wraps cobra's argument validators so that their errors exit 2.
func usageArgs(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := v(cmd, args); err != nil {
			return &UsageError{Err: err}
		}
		return nil
	}
}

// ExactArgs requires exactly n arguments (exit 2 otherwise).
func ExactArgs(n int) cobra.PositionalArgs { return usageArgs(cobra.ExactArgs(n)) }

// MaximumNArgs allows at most n arguments (exit 2 otherwise).
func MaximumNArgs(n int) cobra.PositionalArgs { return usageArgs(cobra.MaximumNArgs(n)) }

// MinimumNArgs requires at least n arguments (exit 2 otherwise).
func MinimumNArgs(n int) cobra.PositionalArgs { return usageArgs(cobra.MinimumNArgs(n)) }

// NoArgs refuses arguments (exit 2 otherwise).
var NoArgs = usageArgs(cobra.NoArgs)

// FlagError makes cobra's flag parsing errors exit 2.
func FlagError(cmd *cobra.Command, err error) error {
	return &UsageError{Err: err}
}

func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "invalid argument", "flag needs an argument", "required flag"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
