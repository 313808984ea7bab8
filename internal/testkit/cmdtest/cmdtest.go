// Package cmdtest runs a command of internal/cli in the test process: a
// factory on buffers with every provider family, and cobra set up as the
// root command sets it up.
package cmdtest

import (
	"bytes"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/provider/all"
)

// Factory is a factory for tests: buffers for streams (see Output), every
// provider family, no process environment, the real clock. Tests set
// Flags, Environ and Now as they need.
func Factory() *app.Factory {
	ios, _, _, _ := ui.Test()
	return &app.Factory{IO: ios, Flags: &app.GlobalFlags{}, Registry: all.Registry(),
		Environ: func() []string { return nil }, Now: time.Now}
}

// Output is what a command run with a Factory's f wrote so far.
func Output(f *app.Factory) (out, errOut string) {
	return f.IO.Out.(*bytes.Buffer).String(), f.IO.ErrOut.(*bytes.Buffer).String()
}

// Execute runs cmd with args as the root command would: flag errors are
// usage errors (exit 2) and cobra prints nothing of its own. Nil args are
// no args, not the test binary's own.
func Execute(cmd *cobra.Command, args ...string) error {
	if args == nil {
		args = []string{}
	}
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetFlagErrorFunc(app.FlagError)
	if cmd.OutOrStdout() == os.Stdout {
		cmd.SetOut(io.Discard)
	}
	if cmd.ErrOrStderr() == os.Stderr {
		cmd.SetErr(io.Discard)
	}
	return cmd.Execute()
}
