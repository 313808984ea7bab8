package history_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/cli/history"
	"github.com/deployctl/deployctl/internal/testkit"
	"github.com/deployctl/deployctl/internal/testkit/cmdtest"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/local"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func TestHistoryParse(t *testing.T) {
	cases := []struct {
		args    []string
		since   string
		wantErr string
	}{
		{[]string{"--since", "24h", "--command", "rollout"}, "24h", ""},
		{[]string{"--since", "2026-11-01"}, "2026-11-01", ""},
		{[]string{"--since", "2026-11-01T10:00:00Z", "--limit", "5"}, "2026-11-01T10:00:00Z", ""},
		{[]string{"--since", "yesterday"}, "", `invalid --since "yesterday"`},
		{[]string{"--limit", "-1"}, "", "invalid --limit -1"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			f := cmdtest.Factory()
			f.Now = func() time.Time { return now }
			var got *history.Options
			cmd := history.NewCmdHistory(f, func(o *history.Options) error { got = o; return nil })
			err := cmdtest.Execute(cmd, c.args...)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || app.ExitCode(err) != app.ExitUsage {
					t.Fatalf("err %v, want exit 2 with %q", err, c.wantErr)
				}
				return
			}
			if err != nil || got.Since != c.since {
				t.Fatalf("err %v, options %+v", err, got)
			}
		})
	}
}

// runHistory runs history in-process over a local state folder holding entries.
func runHistory(t *testing.T, output string, entries []provider.Entry, args ...string) (string, string, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "environments"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "environments", "staging.yaml"), []byte("state: {dir: .deployctl}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := provider.NewRegistry()
	reg.Register(local.Family())
	f := app.NewFactory(reg)
	var stdout, stderr *bytes.Buffer
	f.IO, _, stdout, stderr = ui.Test()
	f.Flags.Env, f.Flags.ConfigDir, f.Flags.Output = "staging", filepath.Join(dir, "environments"), output
	f.Environ = func() []string { return nil }
	f.Now = func() time.Time { return now }
	h, err := f.History(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := h.Append(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	cmd := history.NewCmdHistory(f, nil)
	cmd.SetArgs(append([]string{}, args...))
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err = cmd.ExecuteContext(t.Context())
	return stdout.String(), stderr.String(), err
}

var trail = []provider.Entry{
	{Time: now.Add(-72 * time.Hour), Env: "staging", Actor: "bob", Command: "migrate up", After: map[string]int{"version": 7}, Result: "ok"},
	{Time: now.Add(-3 * time.Hour), Env: "staging", Actor: "alice", Command: "rollout green", Before: map[string]int{"blue": 100, "green": 0}, After: map[string]int{"blue": 90, "green": 10}, Reason: "release 1.4", Result: "ok"},
	{Time: now.Add(-2 * time.Hour), Env: "staging", Actor: "alice", Command: "rollout abort", Result: "ok", Detail: "p95 750ms > 500ms"},
	{Time: now.Add(-time.Hour), Env: "staging", Actor: "carol", Command: "checklist", After: map[string]string{"tests": "pass", "backups": "fail"}, Result: "failed", Detail: "1 passed, 0 warned, 1 failed, 0 skipped; failed: backups"},
}

func TestHistoryTable(t *testing.T) {
	out, _, err := runHistory(t, "table", trail, "--since", "1d")
	if err != nil {
		t.Fatal(err)
	}
	testkit.Golden(t, "history.txt.golden", out)
}

func TestHistoryJSONFilters(t *testing.T) {
	out, _, err := runHistory(t, "json", trail, "--command", "rollout")
	if err != nil {
		t.Fatal(err)
	}
	var rep history.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Env != "staging" || len(rep.Entries) != 2 || rep.Entries[0].Command != "rollout green" || rep.Entries[1].Detail != "p95 750ms > 500ms" {
		t.Fatalf("report %+v", rep)
	}
	out, _, _ = runHistory(t, "json", trail, "--limit", "1")
	if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Entries) != 1 || rep.Entries[0].Command != "checklist" {
		t.Fatalf("--limit 1: %s", out)
	}
}

func TestHistoryRejectsJUnit(t *testing.T) {
	_, _, err := runHistory(t, "junit", nil)
	if app.ExitCode(err) != app.ExitUsage {
		t.Fatalf("err %v, want exit 2", err)
	}
}

func TestHistoryEmpty(t *testing.T) {
	out, errOut, err := runHistory(t, "table", nil, "--command", "backup")
	if err != nil || out != "" || !strings.Contains(errOut, `no history entries for "backup"`) {
		t.Fatalf("out %q, stderr %q, err %v", out, errOut, err)
	}
	out, _, _ = runHistory(t, "json", nil)
	if !strings.Contains(out, `"entries": []`) {
		t.Errorf("empty JSON %s", out)
	}
}

// Each entry is one short line a person reads: the change in words, no raw
// JSON, the reason cut with an ellipsis; --wide has the recorded values and
// the whole reason (finding 4 of the operator-experience issue).
func TestHistoryReadsLikeALog(t *testing.T) {
	until := now.Add(6 * time.Hour)
	long := strings.Repeat("a long reason that goes on ", 6)
	entries := []provider.Entry{
		{Time: now.Add(-5 * time.Hour), Env: "staging", Actor: "root", Command: "maintenance on",
			Before: map[string]any{"on": false, "allow": []string{}}, After: map[string]any{"on": true, "until": until, "allow": []string{}, "by": "root"}, Reason: long, Result: "ok"},
		{Time: now.Add(-4 * time.Hour), Env: "staging", Actor: "bob", Command: "migrate up", Before: 2, After: 3, Detail: "database app", Result: "ok"},
		{Time: now.Add(-3 * time.Hour), Env: "staging", Actor: "root", Command: "maintenance off", After: map[string]any{"on": false}, Result: "ok"},
		{Time: now.Add(-2 * time.Hour), Env: "staging", Actor: "ann", Command: "backup create", After: map[string]any{"id": "20261125T100000Z", "size_bytes": 5 << 20}, Result: "ok"},
		{Time: now.Add(-90 * time.Minute), Env: "staging", Actor: "ann", Command: "backup restore", After: map[string]any{"id": "20261125T100000Z", "data_dir": "/srv/pg", "target": "time 2026-11-25T09:59:00Z", "action": "promote"}, Result: "ok"},
		{Time: now.Add(-1 * time.Hour), Env: "staging", Actor: "ann", Command: "release v7", After: map[string]any{"release": "v7", "status": "running", "step": "migrate", "backup": "20261125T100000Z"}, Result: "step backup"},
	}
	out, _, err := runHistory(t, "table", entries)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(entries)+1 {
		t.Fatalf("want one line per entry:\n%s", out)
	}
	for _, want := range []string{"maintenance on until 2026-11-25 18:00", "version 2 → 3; database app", "maintenance off",
		"backup 20261125T100000Z (5.0 MiB)", "backup 20261125T100000Z into /srv/pg (to time",
		"v7 running at step migrate, backup 20261125T100000Z", "a long reason that goes on a long reaso…"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, `{"`) || strings.Contains(out, long) {
		t.Errorf("raw JSON or the whole long reason in the table:\n%s", out)
	}
	wide, _, err := runHistory(t, "table", entries, "--wide")
	if err != nil || !strings.Contains(wide, strings.TrimSpace(long)) || !strings.Contains(wide, `"by":"root"`) {
		t.Fatalf("--wide lacks the whole reason or the recorded after (%v):\n%s", err, wide)
	}
}
