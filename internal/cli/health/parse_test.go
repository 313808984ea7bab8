package health

import (
	"strings"
	"testing"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
)

func TestParse(t *testing.T) {
	ios, _, _, _ := ui.Test()
	f := &app.Factory{IO: ios, Flags: &app.GlobalFlags{}}
	for args, want := range map[string]string{"": "", "--slot green": "green", "--slot purple": "usage", "extra": "usage"} {
		var got *Options
		cmd := NewCmdHealth(f, func(o *Options) error { got = o; return nil })
		cmd.SetArgs(strings.Fields(args))
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		err := cmd.Execute()
		if want == "usage" {
			if app.ExitCode(err) != app.ExitUsage {
				t.Errorf("%q: err %v, want usage", args, err)
			}
			continue
		}
		if err != nil || got.Slot != want {
			t.Errorf("%q: %v %+v", args, err, got)
		}
	}
}
