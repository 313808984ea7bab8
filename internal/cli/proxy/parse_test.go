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
	"github.com/deployctl/deployctl/pkg/provider/all"
	lproxy "github.com/deployctl/deployctl/pkg/provider/local/proxy"
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

// The limits are traffic.local keys, checked when the environment file is
// loaded (a configuration error, exit 2) and handed to the proxy as set.
func TestLimitSettings(t *testing.T) {
	load := func(t *testing.T, yaml string) (*config.Loaded, error) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "development.yaml"), []byte("traffic:\n  local:\n"+yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		return config.Load(config.Options{Env: "development", Dir: dir, Providers: all.Registry()})
	}
	cfg, err := load(t, "    header_timeout: 5s\n    keepalive_timeout: 30s\n    body_timeout: 20s\n"+
		"    slot_read_timeout: 90s\n    slot_idle_timeout: 1500ms\n    max_connections: 500\n")
	if err != nil {
		t.Fatal(err)
	}
	srv, _, err := newServer(cfg, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	want := lproxy.Limits{HeaderTimeout: 5 * time.Second, KeepAliveTimeout: 30 * time.Second, BodyTimeout: 20 * time.Second,
		SlotReadTimeout: 90 * time.Second, SlotIdleTimeout: 1500 * time.Millisecond, MaxConnections: 500}
	if srv.Limits != want {
		t.Fatalf("limits %+v, want %+v", srv.Limits, want)
	}
	for _, bad := range []string{"header_timeout: 0s", "keepalive_timeout: -1s", "body_timeout: 0s", "slot_read_timeout: 0s",
		"slot_idle_timeout: 0s", "max_connections: -5"} {
		_, err := load(t, "    "+bad+"\n")
		key, _, _ := strings.Cut(bad, ":")
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: %v, want an error naming %s", bad, err, key)
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
		srv, _, err := newServer(cfg, testOptions())
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

// The proxy's own log is text unless --log-format json (it used to be
// JSON on a terminal too), at info, debug with -v.
func TestProxyLogFormat(t *testing.T) {
	for _, c := range []struct {
		flags app.GlobalFlags
		want  string
		debug bool
	}{
		{app.GlobalFlags{}, "level=INFO msg=serving", false},
		{app.GlobalFlags{LogFormat: "json"}, `"msg":"serving"`, false},
		{app.GlobalFlags{Verbose: true}, "level=INFO msg=serving", true},
	} {
		f := cmdtest.Factory()
		f.Flags = &c.flags
		log := proxyLogger(f)
		log.Info("serving", "revision", 3)
		log.Debug("detail")
		_, errOut := cmdtest.Output(f)
		if !strings.Contains(errOut, c.want) || strings.Contains(errOut, "detail") != c.debug {
			t.Errorf("%+v: %q", c.flags, errOut)
		}
	}
}

func testOptions() *Options {
	f := cmdtest.Factory()
	return &Options{IO: f.IO, Factory: f}
}
