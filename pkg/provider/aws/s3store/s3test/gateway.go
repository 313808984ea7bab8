package s3test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// GatewayEnv names the versitygw binary (scripts/versitygw/build prints it;
// scripts/test exports it).
const GatewayEnv = "VERSITYGW_BIN"

// Gateway is a real S3 server, versitygw, run as a separate process for a
// test package: unlike gofakes3 it enforces conditional writes
// (If-None-Match: *, If-Match on PUT and DELETE).
//
//	var gw s3test.Gateway
//	func TestMain(m *testing.M) { s3test.Main(m, &gw) }
//	func TestX(t *testing.T) { bucket := gw.NewBucket(t); … s3test.Options(gw.URL) … }
type Gateway struct {
	URL     string // http://127.0.0.1:PORT
	dir     string // every sub-folder is a bucket
	cmd     *exec.Cmd
	exited  chan struct{}
	log     bytes.Buffer
	missing string // why there is no gateway, when there is none
}

// Main starts the gateway, runs the tests and stops it. Without the binary
// it fails when CI is set and otherwise lets the tests skip loudly.
func Main(m *testing.M, gw *Gateway) {
	if err := gw.start(); err != nil {
		if os.Getenv("CI") != "" {
			fmt.Fprintf(os.Stderr, "s3test: %v\n", err)
			os.Exit(1)
		}
		gw.missing = err.Error()
		fmt.Fprintf(os.Stderr, "s3test: SKIPPING versitygw tests: %v\n", err)
		os.Exit(m.Run())
	}
	code := m.Run()
	gw.stop()
	os.Exit(code)
}

// StartGateway runs a gateway of t's own, stopped when t ends, for a test
// package whose other tests need none (Main runs one for a whole package).
// Without the binary t fails: the caller asked for a real S3 server.
func StartGateway(t testing.TB) *Gateway {
	t.Helper()
	g := &Gateway{}
	if err := g.start(); err != nil {
		t.Fatalf("s3test: %v", err)
	}
	t.Cleanup(g.stop)
	return g
}

// Need skips t (loudly) when the gateway could not start outside CI.
func (g *Gateway) Need(t testing.TB) {
	t.Helper()
	if g.missing != "" {
		t.Skipf("SKIPPED: no versitygw: %s", g.missing)
	}
}

// NewBucket creates a bucket with a fresh name (a sub-folder of the
// gateway's folder) and returns the name.
func (g *Gateway) NewBucket(t testing.TB) string {
	t.Helper()
	g.Need(t)
	name := fmt.Sprintf("bucket-%d", bucketN.Add(1))
	if err := os.Mkdir(filepath.Join(g.dir, name), 0o755); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	return name
}

func (g *Gateway) start() error {
	bin := os.Getenv(GatewayEnv)
	if bin == "" {
		return fmt.Errorf("%s is not set; run `export %s=$(scripts/versitygw/build)` (or scripts/test)", GatewayEnv, GatewayEnv)
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%s=%s: %v; run scripts/versitygw/build", GatewayEnv, bin, err)
	}
	dir, err := os.MkdirTemp("", "deployctl-versitygw-")
	if err != nil {
		return err
	}
	g.dir = dir
	var last error
	for range 3 { // a free port can be taken between the probe and the start
		if last = g.launch(bin); last == nil {
			return nil
		}
	}
	os.RemoveAll(dir)
	return last
}

func (g *Gateway) launch(bin string) error {
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	g.log.Reset()
	g.cmd = exec.Command(bin, "--port", addr, "--region", Region, "--quiet", "posix", g.dir)
	g.cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+AccessKey, "ROOT_SECRET_KEY="+SecretKey)
	g.cmd.Stdout, g.cmd.Stderr = &g.log, &g.log
	g.cmd.SysProcAttr = dieWithParent()
	if err := g.cmd.Start(); err != nil {
		return fmt.Errorf("start versitygw: %v", err)
	}
	g.exited = make(chan struct{})
	go func() { _ = g.cmd.Wait(); close(g.exited) }()
	g.URL = "http://" + addr
	if err := g.waitReady(); err != nil {
		g.kill()
		return fmt.Errorf("versitygw on %s: %v; its output: %s", addr, err, strings.TrimSpace(g.log.String()))
	}
	return nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitReady polls until the gateway answers HTTP (403 to an unsigned GET).
func (g *Gateway) waitReady() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := &http.Client{Timeout: time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, g.URL+"/", nil)
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-g.exited:
			return errors.New("exited at start")
		case <-ctx.Done():
			return errors.New("not answering after 30 s")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop ends the gateway and removes its folder.
func (g *Gateway) stop() {
	g.kill()
	if g.dir != "" {
		os.RemoveAll(g.dir)
	}
}

// kill ends the process: SIGINT, then SIGKILL after 5 s.
func (g *Gateway) kill() {
	if g.cmd != nil && g.cmd.Process != nil {
		_ = g.cmd.Process.Signal(os.Interrupt)
		select {
		case <-g.exited:
		case <-time.After(5 * time.Second):
			_ = g.cmd.Process.Kill()
			<-g.exited
		}
	}
}
