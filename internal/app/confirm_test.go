package app_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/testkit/cmdtest"
	"github.com/deployctl/deployctl/internal/ui"
)

// The one rule of confirmations (deployctl help confirmations), in an
// ordinary and in a protected environment, with and without a terminal.
func TestConfirmationRule(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "environments"), 0o755)
	os.WriteFile(filepath.Join(dir, "environments", "production.yaml"), []byte("protected: true\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "environments", "staging.yaml"), []byte("{}\n"), 0o644)
	for _, c := range []struct {
		name, env, confirm, input string
		yes, tty, traffic         bool
		code                      int    // -1: declined (nothing changed)
		want                      string // in the error or on stderr
	}{
		{name: "ordinary, --yes", env: "staging", yes: true},
		{name: "ordinary, traffic asks nothing", env: "staging", traffic: true},
		{name: "ordinary, no terminal", env: "staging", code: 2, want: "delete 2 backups in staging needs a confirmation and stdin is not a terminal: pass --yes"},
		{name: "ordinary, y", env: "staging", tty: true, input: "y\n", want: "backup 1"},
		{name: "ordinary, n", env: "staging", tty: true, input: "n\n", code: -1},
		{name: "protected, --yes alone", env: "production", yes: true, code: 2, want: "--yes needs --confirm production"},
		{name: "protected, --yes --confirm", env: "production", yes: true, confirm: "production"},
		{name: "protected, wrong --confirm", env: "production", yes: true, confirm: "staging", code: 2, want: "does not match"},
		{name: "protected traffic, no terminal", env: "production", traffic: true, code: 2, want: "pass --yes --confirm production"},
		{name: "protected, typed", env: "production", tty: true, input: "production\n", want: `Type "production"`},
		{name: "protected, y is not the name", env: "production", tty: true, input: "y\n", code: -1},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := cmdtest.Factory()
			ios, in, _, _ := ui.Test()
			in.WriteString(c.input)
			ios.StdinTTY = c.tty
			f.IO = ios
			f.Flags = &app.GlobalFlags{Env: c.env, ConfigDir: filepath.Join(dir, "environments"), Yes: c.yes, Confirm: c.confirm}
			err := f.Confirm("delete 2 backups", []string{"backup 1", "backup 2"}, c.traffic)
			_, errOut := cmdtest.Output(f)
			switch {
			case c.code == -1:
				if !errors.Is(err, ui.ErrDeclined) {
					t.Fatalf("err %v, want declined", err)
				}
			case app.ExitCode(err) != c.code:
				t.Fatalf("exit %d (%v), want %d", app.ExitCode(err), err, c.code)
			}
			if c.want != "" && !strings.Contains(errOut+" "+errString(err), c.want) {
				t.Fatalf("want %q in %q / %v", c.want, errOut, err)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// --kubeconfig and --context override the environment file and the
// DEPLOYCTL_ variables, as kubectl's flags do (finding 10).
func TestKubeFlagsOverrideTheFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "staging.yaml"), []byte("traffic:\n  provider: kubernetes\n  kubernetes: {kubeconfig: /etc/file.conf, context: file-ctx, namespace: shop}\n"), 0o644)
	f := cmdtest.Factory()
	f.Environ = func() []string { return []string{"DEPLOYCTL_TRAFFIC_KUBERNETES_CONTEXT=env-ctx"} }
	f.Flags = &app.GlobalFlags{Env: "staging", ConfigDir: dir, Kubeconfig: "/tmp/flag.conf", KubeContext: "flag-ctx"}
	cfg, err := f.Config()
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Kubeconfig string `mapstructure:"kubeconfig"`
		Context    string `mapstructure:"context"`
		Namespace  string `mapstructure:"namespace"`
	}
	if err := cfg.Decode("traffic.kubernetes", &s); err != nil {
		t.Fatal(err)
	}
	if s.Kubeconfig != "/tmp/flag.conf" || s.Context != "flag-ctx" || s.Namespace != "shop" {
		t.Fatalf("%+v", s)
	}
}
