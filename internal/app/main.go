package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/startup"
	"github.com/deployctl/deployctl/pkg/provider"
)

// Main runs deployctl with the process's arguments and returns its exit code.
// newRoot builds the command tree (internal/cli/root) and reg lists the
// provider families (pkg/provider/all).
func Main(newRoot func(*Factory) *cobra.Command, reg *provider.Registry) int {
	startup.Done()
	f := NewFactory(reg)
	return Run(context.Background(), f, newRoot(f), os.Args[1:])
}

// Run executes root with args: SIGINT/SIGTERM cancel the context (a second
// one exits at once), and the error becomes the exit code.
func Run(ctx context.Context, f *Factory, root *cobra.Command, args []string) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second signal now kills the process the default way
	}()
	root.SetArgs(args)
	root.SetIn(f.IO.In)
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.SilenceErrors, root.SilenceUsage = true, true
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil && ctx.Err() != nil && !errors.Is(err, context.Canceled) {
		err = fmt.Errorf("%w: %v", ErrInterrupted, err)
	}
	if err != nil && isCobraUsage(err) {
		err = &UsageError{Err: fmt.Errorf("%v; see '%s --help'", err, helpPath(cmd))}
	}
	code := ExitCode(err)
	if err != nil {
		var silent *SilentError
		if !errors.As(err, &silent) {
			fmt.Fprintln(f.IO.ErrOut, "error:", message(err))
		}
	}
	return code
}

func message(err error) string {
	msg := err.Error()
	if errors.Is(err, context.Canceled) || errors.Is(err, ErrInterrupted) {
		if !strings.Contains(msg, "interrupted") {
			msg = "interrupted: " + msg
		}
	}
	return msg
}

// helpPath is the command whose --help explains a usage error: the one
// that was run ("deployctl rollout"), the root when none was found.
func helpPath(cmd *cobra.Command) string {
	if cmd == nil {
		return "deployctl"
	}
	return cmd.CommandPath()
}
