package migrate

import (
	"errors"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/testkit/cmdtest"
)

// parse runs argv through a verb built by mk with the group's flags, and
// returns the error of RunE (runF captures the options).
func parse(t *testing.T, mk func(*app.Factory, *DBFlags) *cobra.Command, reason string, argv ...string) error {
	t.Helper()
	f := cmdtest.Factory()
	f.Flags.Reason = reason
	fl := &DBFlags{}
	group := &cobra.Command{Use: "migrate"}
	addDBFlags(group, fl)
	group.AddCommand(mk(f, fl))
	group.SetArgs(argv)
	group.SilenceErrors, group.SilenceUsage = true, true
	group.SetFlagErrorFunc(app.FlagError)
	return group.Execute()
}

func wantUsage(t *testing.T, err error) {
	t.Helper()
	if app.ExitCode(err) != app.ExitUsage {
		t.Errorf("err %v: exit %d, want 2", err, app.ExitCode(err))
	}
}

func TestParseUp(t *testing.T) {
	var got *UpOptions
	mk := func(f *app.Factory, fl *DBFlags) *cobra.Command {
		return NewCmdUp(f, fl, func(o *UpOptions) error { got = o; return nil })
	}
	if err := parse(t, mk, "", "up", "--to", "5", "--allow-changed", "--lock-timeout", "5s", "--database-url", "postgres://x/y", "--dir", "db"); err != nil {
		t.Fatal(err)
	}
	if got.To != 5 || !got.AllowChanged || got.LockTimeout != 5*time.Second || got.Flags.DatabaseURL != "postgres://x/y" || got.Flags.Dir != "db" {
		t.Errorf("options: %+v %+v", got, got.Flags)
	}
	if err := parse(t, mk, "", "up"); err != nil || got.LockTimeout != time.Minute || got.To != 0 {
		t.Errorf("defaults: %+v %v", got, err)
	}
	wantUsage(t, parse(t, mk, "", "up", "--lock-timeout", "0s"))
	wantUsage(t, parse(t, mk, "", "up", "--to", "-1"))
	wantUsage(t, parse(t, mk, "", "up", "extra"))
	wantUsage(t, parse(t, mk, "", "up", "--to", "abc"))
}

func TestParseDown(t *testing.T) {
	var got *DownOptions
	mk := func(f *app.Factory, fl *DBFlags) *cobra.Command {
		return NewCmdDown(f, fl, func(o *DownOptions) error { got = o; return nil })
	}
	if err := parse(t, mk, "", "down"); err != nil || got.To != -1 {
		t.Errorf("default down: %+v %v", got, err)
	}
	if err := parse(t, mk, "", "down", "--to", "0"); err != nil || got.To != 0 {
		t.Errorf("down --to 0: %+v %v", got, err)
	}
	wantUsage(t, parse(t, mk, "", "down", "--to", "-3"))
}

func TestParseResolve(t *testing.T) {
	var got *ResolveOptions
	mk := func(f *app.Factory, fl *DBFlags) *cobra.Command {
		return NewCmdResolve(f, fl, func(o *ResolveOptions) error { got = o; return nil })
	}
	if err := parse(t, mk, "fixed by hand", "resolve", "20260101120000", "--rolled-back"); err != nil || got.Version != 20260101120000 || !got.RolledBack {
		t.Errorf("resolve: %+v %v", got, err)
	}
	wantUsage(t, parse(t, mk, "", "resolve", "3", "--applied"))
	wantUsage(t, parse(t, mk, "r", "resolve", "3"))
	wantUsage(t, parse(t, mk, "r", "resolve", "3", "--applied", "--rolled-back"))
	wantUsage(t, parse(t, mk, "r", "resolve", "x", "--applied"))
	wantUsage(t, parse(t, mk, "r", "resolve", "--applied"))
}

func TestParseOthers(t *testing.T) {
	called := ""
	cases := []struct {
		argv []string
		mk   func(*app.Factory, *DBFlags) *cobra.Command
	}{
		{[]string{"status"}, func(f *app.Factory, fl *DBFlags) *cobra.Command {
			return NewCmdStatus(f, fl, func(*StatusOptions) error { called = "status"; return nil })
		}},
		{[]string{"redo", "--lock-timeout", "2m"}, func(f *app.Factory, fl *DBFlags) *cobra.Command {
			return NewCmdRedo(f, fl, func(o *RedoOptions) error { called = "redo " + o.LockTimeout.String(); return nil })
		}},
		{[]string{"create", "add_x"}, func(f *app.Factory, fl *DBFlags) *cobra.Command {
			return NewCmdCreate(f, fl, func(o *CreateOptions) error { called = "create " + o.Name; return nil })
		}},
		{[]string{"plan", "--to", "3"}, func(f *app.Factory, fl *DBFlags) *cobra.Command {
			return NewCmdPlan(f, fl, func(o *PlanOptions) error { called = "plan " + itoa(o.To); return nil })
		}},
		{[]string{"validate", "--strict", "--offline"}, func(f *app.Factory, fl *DBFlags) *cobra.Command {
			return NewCmdValidate(f, fl, func(o *ValidateOptions) error {
				called = "validate"
				if !o.Strict || !o.Offline {
					return errors.New("flags lost")
				}
				return nil
			})
		}},
		{[]string{"rehearse", "--from-backup", "latest"}, func(f *app.Factory, fl *DBFlags) *cobra.Command {
			return NewCmdRehearse(f, fl, func(o *RehearseOptions) error { called = "rehearse " + o.FromBackup; return nil })
		}},
	}
	want := []string{"status", "redo 2m0s", "create add_x", "plan 3", "validate", "rehearse latest"}
	for i, c := range cases {
		if err := parse(t, c.mk, "", c.argv...); err != nil || called != want[i] {
			t.Errorf("%v: called %q, err %v", c.argv, called, err)
		}
	}
	wantUsage(t, parse(t, cases[2].mk, "", "create"))
	wantUsage(t, parse(t, cases[0].mk, "", "status", "x"))
}
