package backup

import (
	"testing"
	"time"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/testkit/cmdtest"
)

func TestParseCreate(t *testing.T) {
	var got *CreateOptions
	err := cmdtest.Execute(NewCmdCreate(cmdtest.Factory(), &DBFlags{}, func(o *CreateOptions) error { got = o; return nil }), "--label", "before-1.4")
	if err != nil || got.Label != "before-1.4" {
		t.Fatalf("%+v, %v", got, err)
	}
	if err := cmdtest.Execute(NewCmdCreate(cmdtest.Factory(), &DBFlags{}, func(*CreateOptions) error { return nil }), "extra"); app.ExitCode(err) != 2 {
		t.Errorf("an argument to create: %v", err)
	}
}

func TestParseVerify(t *testing.T) {
	cases := []struct {
		args  []string
		ref   string
		level string
		age   time.Duration
		code  int
	}{
		{nil, "", "restore", 0, 0},
		{[]string{"latest", "--max-age", "26h"}, "latest", "restore", 26 * time.Hour, 0},
		{[]string{"X", "--level", "checksum", "--max-age", "2d"}, "X", "checksum", 48 * time.Hour, 0},
		{[]string{"--level", "deep"}, "", "", 0, 2},
		{[]string{"--max-age", "soon"}, "", "", 0, 2},
		{[]string{"a", "b"}, "", "", 0, 2},
	}
	for _, c := range cases {
		var got *VerifyOptions
		err := cmdtest.Execute(NewCmdVerify(cmdtest.Factory(), &DBFlags{}, func(o *VerifyOptions) error { got = o; return nil }), c.args...)
		if code := app.ExitCode(err); code != c.code {
			t.Errorf("%v: exit %d, want %d (%v)", c.args, code, c.code, err)
			continue
		}
		if c.code == 0 && (got.Ref != c.ref || got.Level != c.level || time.Duration(got.MaxAge) != c.age) {
			t.Errorf("%v: %+v", c.args, got)
		}
	}
}

func TestParseRestore(t *testing.T) {
	var got *RestoreOptions
	err := cmdtest.Execute(NewCmdRestore(cmdtest.Factory(), &DBFlags{}, func(o *RestoreOptions) error { got = o; return nil }),
		"latest", "--target-url", "postgres://x@h/db", "--clean", "-j", "3", "--keep-owners")
	if err != nil || got.Ref != "latest" || got.TargetURL != "postgres://x@h/db" || !got.Clean || got.Jobs != 3 || !got.KeepOwners {
		t.Fatalf("%+v, %v", got, err)
	}
	for _, args := range [][]string{{}, {"a", "b"}, {"a", "-j", "-1"}} {
		if err := cmdtest.Execute(NewCmdRestore(cmdtest.Factory(), &DBFlags{}, func(*RestoreOptions) error { return nil }), args...); app.ExitCode(err) != 2 {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}

func TestParsePrune(t *testing.T) {
	var got *PruneOptions
	err := cmdtest.Execute(NewCmdPrune(cmdtest.Factory(), func(o *PruneOptions) error { got = o; return nil }), "--keep-daily", "3", "--keep-monthly", "0", "--apply", "--grace", "2h")
	if err != nil || !got.Apply || time.Duration(got.Grace) != 2*time.Hour {
		t.Fatalf("%+v, %v", got, err)
	}
	p := got.policy([3]int{7, 4, 6})
	if p.Daily != 3 || p.Weekly != 4 || p.Monthly != 0 {
		t.Errorf("flags over backup.retention: %+v", p)
	}
	for _, bad := range []string{"-1", "x", "1.5"} {
		if err := cmdtest.Execute(NewCmdPrune(cmdtest.Factory(), func(*PruneOptions) error { return nil }), "--keep-weekly", bad); app.ExitCode(err) != 2 {
			t.Errorf("--keep-weekly %s: %v, want a usage error", bad, err)
		}
	}
}
