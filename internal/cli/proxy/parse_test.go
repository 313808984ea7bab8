package proxy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/config"
	"github.com/deployctl/deployctl/internal/testkit/cmdtest"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/provider/all"
)

func TestParse(t *testing.T) {
	f := cmdtest.Factory()
	cases := map[string]string{
		"":                                   "listen= access=false drain=30s poll=50ms",
		"--listen 0.0.0.0:9000 --access-log": "listen=0.0.0.0:9000 access=true drain=30s poll=50ms",
		"--drain 5s --poll 10ms":             "listen= access=false drain=5s poll=10ms",
		"--poll 0s":                          "usage",
		"--poll 2s":                          "usage",
		"--drain -1s":                        "usage",
		"extra":                              "usage",
	}
	for args, want := range cases {
		var got *Options
		cmd := NewCmdProxy(f, func(o *Options) error { got = o; return nil })
		cmd.SetArgs(strings.Fields(args))
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		err := cmd.Execute()
		if want == "usage" {
			if app.ExitCode(err) != app.ExitUsage {
				t.Errorf("%q: err %v, want usage", args, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		if s := fmtOpts(got); s != want {
			t.Errorf("%q: %s, want %s", args, s, want)
		}
	}
}

func fmtOpts(o *Options) string {
	return "listen=" + o.Listen + " access=" + map[bool]string{true: "true", false: "false"}[o.AccessLog] +
		" drain=" + o.Drain.String() + " poll=" + o.Poll.String()
}

func TestSlotIdleTimeoutSetting(t *testing.T) {
	for yaml, want := range map[string]string{"    slot_idle_timeout: 1500ms\n": "", "    slot_idle_timeout: 0s\n": "must be above 0"} {
		dir := t.TempDir()
		env := "traffic:\n  local:\n" + yaml
		if err := os.WriteFile(filepath.Join(dir, "development.yaml"), []byte(env), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(config.Options{Env: "development", Dir: dir, Providers: all.Registry()})
		if want != "" {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%q: %v, want an error saying %q", yaml, err, want)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		srv, _, err := newServer(cfg, &Options{IO: cmdtest.Factory().IO})
		if err != nil || srv.SlotIdleTimeout != 1500*time.Millisecond {
			t.Errorf("%q: SlotIdleTimeout %v (%v)", yaml, srv.SlotIdleTimeout, err)
		}
	}
}

func TestFastPathSetting(t *testing.T) {
	for yaml, standard := range map[string]bool{"": false, "    fast_path: true\n": false, "    fast_path: false\n": true} {
		dir := t.TempDir()
		env := "traffic:\n  local:\n" + yaml + "    slots: {blue: {url: http://127.0.0.1:1}, green: {url: http://127.0.0.1:2}}\n"
		if err := os.WriteFile(filepath.Join(dir, "development.yaml"), []byte(env), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(config.Options{Env: "development", Dir: dir, Providers: all.Registry()})
		if err != nil {
			t.Fatal(err)
		}
		if len(cfg.Warnings) != 0 {
			t.Errorf("%q: warnings %v", yaml, cfg.Warnings)
		}
		ios, _, _, _ := ui.Test()
		srv, _, err := newServer(cfg, &Options{IO: ios})
		if err != nil {
			t.Fatal(err)
		}
		if srv.StandardPath != standard {
			t.Errorf("%q: StandardPath %v, want %v", yaml, srv.StandardPath, standard)
		}
		if srv.SlotIdleTimeout != 4*time.Second {
			t.Errorf("%q: SlotIdleTimeout %v, want the 4s default", yaml, srv.SlotIdleTimeout)
		}
	}
}
