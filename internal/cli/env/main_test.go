package env

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/testkit/cmdtest"
	"github.com/deployctl/deployctl/pkg/postgres/pgtest"
)

var (
	pg     *pgtest.Cluster
	pgWhy  string
	binary string // the deployctl binary, built once for the end-to-end tests
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "envcli")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "deployctl")
	build := exec.Command("go", "build", "-o", binary, "./cmd/deployctl")
	build.Dir = "../../.."
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: build deployctl: %v\n%s", err, out)
		return 1
	}
	if pgWhy = pgtest.Available(); pgWhy == "" {
		if pg, err = pgtest.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL: start PostgreSQL:", err)
			return 1
		}
		defer pg.Stop()
	}
	return m.Run()
}

// requirePG fails in CI and skips loudly elsewhere when PostgreSQL is missing.
func requirePG(t *testing.T) {
	t.Helper()
	if pg != nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("PostgreSQL needed: %s", pgWhy)
	}
	t.Skipf("SKIP (developer machine only): PostgreSQL needed: %s", pgWhy)
}

// result is what a command run produced.
type result struct {
	out, errOut string
	err         error
	code        int
}

// runIn runs `env ARGS…` in-process against configDir, like an operator
// with -e env -o output.
func runIn(t *testing.T, configDir, env, output string, args ...string) result {
	t.Helper()
	f := cmdtest.Factory()
	f.Flags = &app.GlobalFlags{Env: env, ConfigDir: configDir, Output: output}
	f.Now = func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) }
	err := cmdtest.Execute(NewCmdEnv(f), args...)
	out, errOut := cmdtest.Output(f)
	return result{out: out, errOut: errOut, err: err, code: app.ExitCode(err)}
}

// runBin runs the built binary in dir with extra environment variables.
func runBin(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DEPLOYCTL_") && !strings.HasPrefix(kv, "SSL_CERT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out: out.String(), errOut: errOut.String(), code: code}
}

// golden compares got with testdata/NAME.golden (-update rewrites it).

func schemaText(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/environments/variables.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
