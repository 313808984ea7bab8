package maintenance

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/testkit/cmdtest"
)

var now = time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC)

// clockedFactory is a test factory whose clock stands at now.
func clockedFactory() *app.Factory {
	f := cmdtest.Factory()
	f.Now = func() time.Time { return now }
	return f
}

func TestParseOn(t *testing.T) {
	var got *OnOptions
	f := clockedFactory()
	cmd := NewCmdOn(f, func(o *OnOptions) error { got = o; return nil })
	if err := cmdtest.Execute(cmd, "--message", "db upgrade", "--until", "30m", "--allow", "10.0.0.0/8", "--allow", "::1"); err != nil {
		t.Fatal(err)
	}
	r := got.Request
	if r.Message != "db upgrade" || !r.Until.Equal(now.Add(30*time.Minute)) || strings.Join(r.Allow, ",") != "10.0.0.0/8,::1" || !got.AllowGiven {
		t.Fatalf("%+v", got)
	}
	cmd = NewCmdOn(f, func(o *OnOptions) error { got = o; return nil })
	if err := cmdtest.Execute(cmd, "--until", "2026-11-25T23:00:00Z"); err != nil || !got.Request.Until.Equal(now.Add(2*time.Hour)) || got.AllowGiven {
		t.Fatalf("%+v %v", got, err)
	}
}

func TestParseOnRejects(t *testing.T) {
	for _, args := range [][]string{
		{"--allow", "10.0.0.0/33"},
		{"--allow", "office"},
		{"--until", "yesterday"},
		{"--until", "2020-01-01T00:00:00Z"},
		{"extra"},
		{"--nope"},
	} {
		err := cmdtest.Execute(NewCmdOn(clockedFactory(), func(*OnOptions) error { t.Fatal("ran"); return nil }), args...)
		if app.ExitCode(err) != 2 {
			t.Errorf("%v: exit %d (%v), want 2", args, app.ExitCode(err), err)
		}
	}
}

func TestParseSchedule(t *testing.T) {
	var got *ScheduleOptions
	cmd := NewCmdSchedule(clockedFactory(), func(o *ScheduleOptions) error { got = o; return nil })
	if err := cmdtest.Execute(cmd, "--start", "2026-12-01T22:00:00Z", "--duration", "1h30m", "-m", "upgrade"); err != nil {
		t.Fatal(err)
	}
	if !got.Request.Start.Equal(time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)) || got.Request.Duration != 90*time.Minute || got.Request.Message != "upgrade" {
		t.Fatalf("%+v", got.Request)
	}
	for _, args := range [][]string{
		{"--duration", "1h"},
		{"--start", "1h"},
		{"--start", "2020-01-01T00:00:00Z", "--duration", "1h"},
		{"--start", "1h", "--duration", "0s"},
		{"--start", "1h", "--duration", "-5m"},
		{"--start", "soon", "--duration", "1h"},
	} {
		err := cmdtest.Execute(NewCmdSchedule(clockedFactory(), func(*ScheduleOptions) error { return nil }), args...)
		if app.ExitCode(err) != 2 {
			t.Errorf("%v: exit %d (%v)", args, app.ExitCode(err), err)
		}
	}
}

func TestParseRunCancelAndNoArgs(t *testing.T) {
	var run *RunOptions
	cmd := NewCmdRun(clockedFactory(), func(o *RunOptions) error { run = o; return nil })
	if err := cmdtest.Execute(cmd, "--message", "m", "--health-timeout", "5s", "--", "sh", "-c", "exit 1"); err != nil {
		t.Fatal(err)
	}
	if strings.Join(run.Request.Command, " ") != "sh -c exit 1" || run.Request.HealthTimeout != 5*time.Second || run.Request.Message != "m" {
		t.Fatalf("%+v", run.Request)
	}
	if err := cmdtest.Execute(NewCmdRun(clockedFactory(), func(*RunOptions) error { return nil })); app.ExitCode(err) != 2 {
		t.Errorf("run without a command: %v", err)
	}
	var cancel *CancelOptions
	if err := cmdtest.Execute(NewCmdCancel(clockedFactory(), func(o *CancelOptions) error { cancel = o; return nil }), "20261201-2200"); err != nil || cancel.ID != "20261201-2200" {
		t.Fatalf("%+v %v", cancel, err)
	}
	if err := cmdtest.Execute(NewCmdCancel(clockedFactory(), func(*CancelOptions) error { return nil })); app.ExitCode(err) != 2 {
		t.Errorf("cancel without ID: %v", err)
	}
	for _, c := range []*cobra.Command{
		NewCmdOff(clockedFactory(), func(*OffOptions) error { return errors.New("ran") }),
		NewCmdStatus(clockedFactory(), func(*StatusOptions) error { return errors.New("ran") }),
		NewCmdList(clockedFactory(), func(*ListOptions) error { return errors.New("ran") }),
	} {
		if err := cmdtest.Execute(c, "extra"); app.ExitCode(err) != 2 {
			t.Errorf("%s extra: %v", c.Name(), err)
		}
	}
}

func TestEveryCommandHasAnExample(t *testing.T) {
	for _, c := range NewCmdMaintenance(clockedFactory()).Commands() {
		if c.Example == "" {
			t.Errorf("%s has no example", c.Name())
		}
	}
}
