package db

import (
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
)

func testFactory() *app.Factory {
	ios, _, _, _ := ui.Test()
	return &app.Factory{IO: ios, Flags: &app.GlobalFlags{}, Now: time.Now}
}

func execute(cmd *cobra.Command, args ...string) error {
	if args == nil {
		args = []string{}
	}
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetFlagErrorFunc(app.FlagError)
	return cmd.Execute()
}

func TestParseStatus(t *testing.T) {
	var got *StatusOptions
	fl := &Flags{DatabaseURL: "postgres://p"}
	cmd := NewCmdStatus(testFactory(), fl, func(o *StatusOptions) error { got = o; return nil })
	if err := execute(cmd, "--replica-url", "postgres://a", "--replica-url", "postgres://b,c", "--max-lag", "30s"); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.ReplicaURLs, " ") != "postgres://a postgres://b,c" || got.Flags.DatabaseURL != "postgres://p" || got.MaxLag != 30*time.Second {
		t.Fatalf("%+v", got)
	}
	if err := execute(NewCmdStatus(testFactory(), fl, func(*StatusOptions) error { return nil }), "extra"); app.ExitCode(err) != 2 {
		t.Fatalf("extra argument: %v", err)
	}
}

func TestParsePromote(t *testing.T) {
	var got *PromoteOptions
	cmd := NewCmdPromote(testFactory(), &Flags{}, func(o *PromoteOptions) error { got = o; return nil })
	if err := execute(cmd, "postgres://replica", "--force", "--wait", "30s"); err != nil {
		t.Fatal(err)
	}
	if got.ReplicaURL != "postgres://replica" || !got.Force || got.Wait != 30*time.Second {
		t.Fatalf("%+v", got)
	}
	for _, args := range [][]string{{}, {"a", "b"}, {" "}, {"postgres://r", "--wait", "0s"}, {"postgres://r", "--nope"}} {
		err := execute(NewCmdPromote(testFactory(), &Flags{}, func(*PromoteOptions) error { t.Fatal("ran"); return nil }), args...)
		if app.ExitCode(err) != 2 {
			t.Errorf("%q: exit %d (%v); want 2", args, app.ExitCode(err), err)
		}
	}
}
