package app

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/provider"
)

func testRoot(f *Factory, run func() error) *cobra.Command {
	root := &cobra.Command{Use: "deployctl"}
	root.SetFlagErrorFunc(FlagError)
	root.AddCommand(&cobra.Command{Use: "go", Args: ExactArgs(1), RunE: func(*cobra.Command, []string) error { return run() }})
	return root
}

func TestRunMapsErrorsAndPrintsOnce(t *testing.T) {
	cases := []struct {
		args   []string
		err    error
		code   int
		stderr string
	}{
		{[]string{"go", "x"}, nil, 0, ""},
		{[]string{"go"}, nil, 2, "accepts 1 arg"},
		{[]string{"go", "x", "--nope"}, nil, 2, "unknown flag: --nope"},
		{[]string{"nope"}, nil, 2, "unknown command"},
		{[]string{"go", "x"}, errors.New("it broke; try again"), 1, "error: it broke; try again"},
		{[]string{"go", "x"}, ErrFailed, 1, ""},
		{[]string{"go", "x"}, &provider.LockedError{Holder: provider.Holder{Actor: "ana", Command: "rollout", Reason: "release"}}, 3, `locked by ana`},
	}
	for _, c := range cases {
		ios, _, _, errOut := ui.Test()
		f := &Factory{IO: ios, Flags: &GlobalFlags{}}
		code := Run(context.Background(), f, testRoot(f, func() error { return c.err }), c.args)
		if code != c.code {
			t.Errorf("%v: code %d; want %d (stderr %q)", c.args, code, c.code, errOut)
		}
		if c.stderr == "" && errOut.Len() != 0 {
			t.Errorf("%v: unexpected stderr %q", c.args, errOut)
		}
		if !strings.Contains(errOut.String(), c.stderr) {
			t.Errorf("%v: stderr %q lacks %q", c.args, errOut, c.stderr)
		}
	}
}

func TestActorFromEnvironment(t *testing.T) {
	f := &Factory{Environ: func() []string { return []string{"DEPLOYCTL_ACTOR=ana@ops"} }}
	if f.Actor() != "ana@ops" {
		t.Errorf("actor %q", f.Actor())
	}
}
