package maintenance

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/testkit"
	"github.com/deployctl/deployctl/internal/testkit/cmdtest"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/local/statefs"
)

// memSwitch keeps the switch in memory, so output tests need no proxy.
type memSwitch struct {
	mu sync.Mutex
	st provider.MaintenanceState
}

func (m *memSwitch) Maintenance(context.Context) (provider.MaintenanceState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st, nil
}

func (m *memSwitch) SetMaintenance(_ context.Context, st provider.MaintenanceState) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.st = st
	return nil
}

// goldenFactory is a factory on a temporary project whose local family has
// the real state folder and an in-memory switch, with a fixed clock.
func goldenFactory(t *testing.T) (*app.Factory, *bytes.Buffer, *bytes.Buffer, *time.Time) {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "environments"), 0o755)
	os.WriteFile(filepath.Join(dir, "environments", "production.yaml"), []byte("maintenance: {allow: [10.0.0.0/8]}\n"), 0o600)
	sw := &memSwitch{}
	reg := provider.NewRegistry()
	reg.Register(&provider.Family{
		Name:          "local",
		TrafficConfig: &provider.Section{Name: "local", Settings: func() any { return &struct{}{} }},
		StorageConfig: &provider.Section{Name: "file", Settings: func() any { return &struct{}{} }},
		Maintenance: func(context.Context, provider.Env, provider.Decode) (provider.MaintenanceSwitch, error) {
			return sw, nil
		},
		Locker: statefs.NewLocker, State: statefs.NewState, History: statefs.NewHistory,
	})
	ios, _, out, errOut := ui.Test()
	clock := now
	f := &app.Factory{IO: ios, Registry: reg, Now: func() time.Time { return clock },
		Flags:   &app.GlobalFlags{Env: "production", ConfigDir: filepath.Join(dir, "environments"), Output: "table"},
		Environ: func() []string { return []string{"DEPLOYCTL_ACTOR=alice"} }}
	return f, out, errOut, &clock
}

func TestGoldenOutputs(t *testing.T) {
	f, out, _, clock := goldenFactory(t)
	steps := []struct {
		name  string
		json  bool
		build func() *cobra.Command
		args  []string
	}{
		{"on.json", true, func() *cobra.Command { return NewCmdOn(f, nil) }, []string{"--message", "Upgrading the database", "--until", "30m"}},
		{"schedule.json", true, func() *cobra.Command { return NewCmdSchedule(f, nil) }, []string{"--start", "2026-12-01T22:00:00Z", "--duration", "1h", "-m", "Database upgrade"}},
		{"status.json", true, func() *cobra.Command { return NewCmdStatus(f, nil) }, nil},
		{"status.txt", false, func() *cobra.Command { return NewCmdStatus(f, nil) }, nil},
		{"list.txt", false, func() *cobra.Command { return NewCmdList(f, nil) }, nil},
		{"list.json", true, func() *cobra.Command { return NewCmdList(f, nil) }, nil},
	}
	for _, s := range steps {
		out.Reset()
		f.Flags.Output = "table"
		if s.json {
			f.Flags.Output = "json"
		}
		cmd := s.build()
		cmd.SetContext(t.Context())
		if err := cmdtest.Execute(cmd, s.args...); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		testkit.Golden(t, s.name+".golden", out.Bytes())
	}
	*clock = clock.Add(45 * time.Minute) // past --until
	out.Reset()
	f.Flags.Output = "json"
	cmd := NewCmdStatus(f, nil)
	cmd.SetContext(t.Context())
	if err := cmdtest.Execute(cmd); err != nil {
		t.Fatal(err)
	}
	testkit.Golden(t, "status-expired.json"+".golden", out.Bytes())
	out.Reset()
	f.Flags.Output = "table"
	cmd = NewCmdStatus(f, nil)
	cmd.SetContext(t.Context())
	if err := cmdtest.Execute(cmd); err != nil {
		t.Fatal(err)
	}
	testkit.Golden(t, "status-expired.txt"+".golden", out.Bytes())
}
