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

func TestParseBaseTypes(t *testing.T) {
	var got *CreateOptions
	if err := cmdtest.Execute(NewCmdCreate(cmdtest.Factory(), &DBFlags{}, func(o *CreateOptions) error { got = o; return nil })); err != nil || got.Type != "logical" {
		t.Fatalf("default type: %+v, %v", got, err)
	}
	if err := cmdtest.Execute(NewCmdCreate(cmdtest.Factory(), &DBFlags{}, func(o *CreateOptions) error { got = o; return nil }), "--type", "base"); err != nil || got.Type != "base" {
		t.Fatalf("--type base: %+v, %v", got, err)
	}
	if err := cmdtest.Execute(NewCmdCreate(cmdtest.Factory(), &DBFlags{}, func(*CreateOptions) error { return nil }), "--type", "physical"); app.ExitCode(err) != 2 {
		t.Errorf("--type physical: %v", err)
	}
	var v *VerifyOptions
	if err := cmdtest.Execute(NewCmdVerify(cmdtest.Factory(), &DBFlags{}, func(o *VerifyOptions) error { v = o; return nil }), "--type", "base"); err != nil || v.Type != "base" {
		t.Fatalf("verify --type base: %+v, %v", v, err)
	}
	if err := cmdtest.Execute(NewCmdVerify(cmdtest.Factory(), &DBFlags{}, func(*VerifyOptions) error { return nil }), "--type", "x"); app.ExitCode(err) != 2 {
		t.Errorf("verify --type x: %v", err)
	}
}

func TestParseRestoreBase(t *testing.T) {
	run := func(args ...string) (*RestoreOptions, error) {
		var got *RestoreOptions
		err := cmdtest.Execute(NewCmdRestore(cmdtest.Factory(), &DBFlags{}, func(o *RestoreOptions) error { got = o; return nil }), args...)
		return got, err
	}
	o, err := run("--type", "base", "--to-time", "2026-11-25T18:58:00.5+01:00", "--data-dir", "/srv/pg")
	if err != nil || !o.target.Time.Equal(time.Date(2026, 11, 25, 17, 58, 0, 5e8, time.UTC)) || o.Ref != "" || o.DataDir != "/srv/pg" {
		t.Fatalf("--to-time: %+v, %v", o, err)
	}
	o, err = run("latest", "--type", "base", "--to-lsn", "0/3000a60", "--data-dir", "d", "--pause")
	if err != nil || o.target.LSN != "0/3000A60" || !o.Pause || o.Ref != "latest" {
		t.Fatalf("--to-lsn: %+v, %v", o, err)
	}
	if o, err = run("--type", "base", "--to-latest", "--data-dir", "d"); err != nil || !o.target.Latest {
		t.Fatalf("--to-latest: %+v, %v", o, err)
	}
	for _, args := range [][]string{
		{"--type", "base", "--data-dir", "d"},                                     // no target
		{"--type", "base", "--to-latest", "--to-lsn", "0/1", "--data-dir", "d"},   // two targets
		{"--type", "base", "--to-latest"},                                         // no folder
		{"--type", "base", "--to-time", "2026-11-25 17:58:00", "--data-dir", "d"}, // no zone
		{"--type", "base", "--to-lsn", "3000060", "--data-dir", "d"},
		{"--type", "base", "--to-latest", "--pause", "--data-dir", "d"},
		{"--type", "base", "--to-latest", "--data-dir", "d", "--target-url", "postgres://x@h/db"},
		{"latest", "--to-latest"}, // a base flag on a logical restore
		{},                        // a logical restore names its backup
	} {
		if _, err := run(args...); app.ExitCode(err) != 2 {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}
