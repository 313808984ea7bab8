package rollout

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/testkit/cmdtest"
	"github.com/deployctl/deployctl/pkg/rollout"
)

func TestParseShift(t *testing.T) {
	cases := []struct {
		args []string
		want string // fmt of the options that matter, or "usage"
	}{
		{[]string{"green", "--weight", "10"}, "green weight=10 steps=[] interval=0s"},
		{[]string{"blue", "--weight", "0"}, "blue weight=0 steps=[] interval=0s"},
		{[]string{"green", "--weight", "100%"}, "green weight=100 steps=[] interval=0s"},
		{[]string{"green", "--steps", "10,50,100", "--interval", "2m"}, "green weight=0 steps=[10 50 100] interval=2m0s"},
		{[]string{"green", "--weight", "101"}, "usage"},
		{[]string{"green", "--weight", "-1"}, "usage"},
		{[]string{"green", "--weight", "abc"}, "usage"},
		{[]string{"green", "--weight", "1.5"}, "usage"},
		{[]string{"purple", "--weight", "10"}, "usage"},
		{[]string{"green"}, "usage"},
		{[]string{"green", "--weight", "10", "--steps", "10,20"}, "usage"},
		{[]string{"green", "--steps", "50,10"}, "usage"},
		{[]string{"green", "--steps", "10,10"}, "usage"},
		{[]string{"green", "--weight", "10", "--interval", "1m"}, "usage"},
		{[]string{}, "usage"},
		{[]string{"green", "blue", "--weight", "1"}, "usage"},
		{[]string{"green", "--weight", "10", "--image", "api:v2", "--timeout", "0s"}, "usage"},
		{[]string{"green", "--weight", "10", "--image", "api:v2", "--timeout", "soon"}, "usage"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.args), func(t *testing.T) {
			var got *ChangeOptions
			err := cmdtest.Execute(NewCmdShift(cmdtest.Factory(), func(o *ChangeOptions) error { got = o; return nil }), c.args...)
			if c.want == "usage" {
				if app.ExitCode(err) != app.ExitUsage {
					t.Fatalf("err = %v (exit %d), want a usage error", err, app.ExitCode(err))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s := fmt.Sprintf("%s weight=%d steps=%v interval=%s", got.Slot, got.Weight, fmtSteps(got.Steps), got.Interval)
			if s != c.want || got.Op != rollout.OpWeight {
				t.Fatalf("options %q, want %q", s, c.want)
			}
		})
	}
}

func TestParseImageTimeout(t *testing.T) {
	var got *ChangeOptions
	run := func(o *ChangeOptions) error { got = o; return nil }
	if err := cmdtest.Execute(NewCmdShift(cmdtest.Factory(), run), "green", "--weight", "10", "--image", "api:v2"); err != nil {
		t.Fatal(err)
	}
	if got.Image != "api:v2" || got.Timeout.String() != "5m0s" {
		t.Fatalf("image %q timeout %s; want api:v2 and the 5m default", got.Image, got.Timeout)
	}
	if err := cmdtest.Execute(NewCmdShift(cmdtest.Factory(), run), "green", "--weight", "10", "--image", "api:v3", "--timeout", "90s"); err != nil {
		t.Fatal(err)
	}
	if got.Timeout.String() != "1m30s" {
		t.Fatalf("timeout %s", got.Timeout)
	}
}

func fmtSteps(s []int) []int {
	if s == nil {
		return []int{}
	}
	return slices.Clone(s)
}

func TestParsePromoteAbortStatusHistory(t *testing.T) {
	f := cmdtest.Factory()
	var ops []rollout.Op
	rec := func(o *ChangeOptions) error { ops = append(ops, o.Op); return nil }
	if err := cmdtest.Execute(NewCmdPromote(f, rec)); err != nil {
		t.Fatal(err)
	}
	if err := cmdtest.Execute(NewCmdAbort(f, rec)); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ops) != "[promote abort]" {
		t.Fatalf("ops = %v", ops)
	}
	if err := cmdtest.Execute(NewCmdPromote(f, rec), "green"); app.ExitCode(err) != app.ExitUsage {
		t.Fatalf("promote with an argument: %v", err)
	}
	called := false
	if err := cmdtest.Execute(NewCmdStatus(f, func(*StatusOptions) error { called = true; return nil })); err != nil || !called {
		t.Fatalf("status: %v %v", err, called)
	}
	var limit int
	if err := cmdtest.Execute(NewCmdHistory(f, func(o *HistoryOptions) error { limit = o.Limit; return nil }), "--limit", "5"); err != nil || limit != 5 {
		t.Fatalf("history: %v %d", err, limit)
	}
	if err := cmdtest.Execute(NewCmdHistory(f, nil), "--limit", "-1"); app.ExitCode(err) != app.ExitUsage {
		t.Fatalf("history --limit -1: %v", err)
	}
}

// `rollout g<TAB>` completes the slot (finding 10).
func TestSlotCompletion(t *testing.T) {
	cmd := NewCmdShift(cmdtest.Factory(), nil)
	got, _ := cmd.ValidArgsFunction(cmd, nil, "g")
	if len(got) != 1 || !strings.HasPrefix(got[0], "green\t") {
		t.Fatalf("completions of g: %q", got)
	}
	if got, _ := cmd.ValidArgsFunction(cmd, []string{"green"}, ""); len(got) != 0 {
		t.Fatalf("a second slot offered: %q", got)
	}
}
