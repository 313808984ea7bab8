package health

import (
	"strings"
	"testing"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/testkit/cmdtest"
)

func TestParse(t *testing.T) {
	f := cmdtest.Factory()
	for args, want := range map[string]string{"": "", "--slot green": "green", "--slot purple": "usage", "extra": "usage"} {
		var got *Options
		cmd := NewCmdHealth(f, func(o *Options) error { got = o; return nil })
		err := cmdtest.Execute(cmd, strings.Fields(args)...)
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
