package checklist_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/deployctl/deployctl/internal/app"
	clchecklist "github.com/deployctl/deployctl/internal/cli/checklist"
	"github.com/deployctl/deployctl/internal/testkit/cmdtest"
)

func TestChecklistParse(t *testing.T) {
	cases := []struct {
		args     []string
		output   string
		wantOnly []string
		wantErr  string
	}{
		{nil, "table", nil, ""},
		{[]string{"--only", "backups,tests"}, "junit", []string{"tests", "backups"}, ""},
		{[]string{"--only", "tests", "--only", "rollback"}, "json", []string{"tests", "rollback"}, ""},
		{[]string{"--only", "tests,lint"}, "table", nil, `--only: unknown check "lint"`},
		{nil, "yaml", nil, `invalid --output "yaml": use table, json or junit`},
		{[]string{"extra"}, "table", nil, "unknown command"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " ")+" -o "+c.output, func(t *testing.T) {
			f := cmdtest.Factory()
			f.Flags.Output = c.output
			var got *clchecklist.Options
			cmd := clchecklist.NewCmdChecklist(f, func(o *clchecklist.Options) error { got = o; return nil })
			cmd.SetArgs(append([]string{}, c.args...))
			cmd.SilenceErrors, cmd.SilenceUsage = true, true
			err := cmd.Execute()
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want %q", err, c.wantErr)
				}
				if c.args == nil && app.ExitCode(err) != app.ExitUsage {
					t.Errorf("exit %d, want 2", app.ExitCode(err))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Only, c.wantOnly) || got.Output != c.output {
				t.Errorf("options %+v", got)
			}
		})
	}
}
