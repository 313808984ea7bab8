// Package promtest runs a real Prometheus (the Debian package) for tests on
// series written with promtool, so every query answers an exact, known value:
// write OpenMetrics, `promtool tsdb create-blocks-from openmetrics`, start
// `prometheus` on that folder on a free loopback port, optionally with rule
// files, and stop it when the test ends. Query with time= inside the
// series' span (see Builder.End).
package promtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Options say what the Prometheus of a test holds.
type Options struct {
	OpenMetrics string            // series to load; "" for none
	Rules       map[string]string // rule file name → YAML content
	// Scrape lists host:port targets scraped live (/metrics) every second,
	// for end-to-end tests where real traffic makes the numbers.
	Scrape []string
}

// Server is a running Prometheus.
type Server struct {
	URL     string // http://127.0.0.1:PORT
	Dir     string
	stop    func()
	targets int
}

// Require fails the test when prometheus or promtool are missing and CI is
// set, and skips it loudly otherwise.
func Require(t testing.TB) {
	t.Helper()
	for _, bin := range []string{"prometheus", "promtool"} {
		if _, err := exec.LookPath(bin); err != nil {
			msg := fmt.Sprintf("%s not found: install the Debian package prometheus (scripts/deps)", bin)
			if os.Getenv("CI") != "" {
				t.Fatal(msg)
			}
			t.Skip("SKIPPED, NOT TESTED: " + msg)
		}
	}
}

// Start loads o into a fresh Prometheus, returns once it is ready and
// stops it when the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	Require(t)
	s, err := Launch(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Launch is Start for a TestMain that shares one Prometheus between tests:
// the caller must Close it. Call Require in each test first.
func Launch(o Options) (*Server, error) {
	dir, err := os.MkdirTemp("", "promtest-")
	if err != nil {
		return nil, err
	}
	s, err := launch(dir, o)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func launch(dir string, o Options) (*Server, error) {
	tsdb := filepath.Join(dir, "tsdb")
	if o.OpenMetrics != "" {
		if err := createBlocks(dir, tsdb, o.OpenMetrics); err != nil {
			return nil, err
		}
	}
	cfg, err := writeConfig(dir, o.Rules, o.Scrape)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		s, err := start(dir, tsdb, cfg)
		if err == nil {
			s.targets = len(o.Scrape)
		}
		if err == nil || attempt == 2 {
			return s, err
		}
	}
}

// Close stops Prometheus and removes its folder.
func (s *Server) Close() {
	s.stop()
	os.RemoveAll(s.Dir)
}

func createBlocks(dir, tsdb, om string) error {
	if !strings.HasSuffix(strings.TrimSpace(om), "# EOF") {
		om = strings.TrimRight(om, "\n") + "\n# EOF\n"
	}
	file := filepath.Join(dir, "series.om")
	if err := os.WriteFile(file, []byte(om), 0o644); err != nil {
		return err
	}
	out, err := exec.Command("promtool", "tsdb", "create-blocks-from", "openmetrics", file, tsdb).CombinedOutput()
	if err != nil {
		return fmt.Errorf("promtool tsdb create-blocks-from openmetrics: %v\n%s", err, out)
	}
	return nil
}

func writeConfig(dir string, rules map[string]string, scrape []string) (string, error) {
	var b strings.Builder
	b.WriteString("global:\n  evaluation_interval: 1s\n  scrape_interval: 1s\n")
	if len(scrape) > 0 {
		quoted := make([]string, len(scrape))
		for i, t := range scrape {
			quoted[i] = fmt.Sprintf("%q", t)
		}
		fmt.Fprintf(&b, "scrape_configs:\n  - job_name: test\n    static_configs: [{targets: [%s]}]\n", strings.Join(quoted, ", "))
	}
	b.WriteString("rule_files:\n")
	for name, content := range rules {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "  - %q\n", p)
	}
	if len(rules) == 0 {
		b.WriteString("  []\n")
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	return cfg, os.WriteFile(cfg, []byte(b.String()), 0o644)
}

// start runs prometheus on a free port; an error means the port was taken
// meanwhile or it did not get ready, and the caller tries again.
func start(dir, tsdb, cfg string) (*Server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	var logs bytes.Buffer
	cmd := exec.Command("prometheus", "--config.file="+cfg, "--storage.tsdb.path="+tsdb,
		"--storage.tsdb.retention.time=100y", "--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	s := &Server{URL: "http://" + addr, Dir: dir}
	if err := waitReady(s.URL, done); err != nil {
		_ = cmd.Process.Kill()
		<-done
		return nil, fmt.Errorf("%v\n%s", err, logs.String())
	}
	s.stop = func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	return s, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func waitReady(base string, done <-chan error) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/-/ready", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-done:
			return fmt.Errorf("prometheus exited: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("prometheus not ready after 30s")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// WaitRules waits until every loaded rule has been evaluated once (health
// no longer "unknown"), so what a test reads of the rules is settled.
func (s *Server) WaitRules(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/api/v1/rules")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Contains(body, []byte(`"health":"unknown"`)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rules not evaluated after 30s: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitScraped waits until every Scrape target has been scraped and is up:
// a fresh Prometheus takes several seconds to its first scrape.
func (s *Server) WaitScraped(t testing.TB) {
	t.Helper()
	s.WaitQuery(t, fmt.Sprintf("count(up == 1) == %d", s.targets))
}

// WaitQuery waits until query has a value (an instant vector that is not
// empty): the series it needs have been scraped.
func (s *Server) WaitQuery(t testing.TB, query string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	want := `"value":[`
	for {
		resp, err := http.Get(s.URL + "/api/v1/query?query=" + url.QueryEscape(query))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if bytes.Contains(body, []byte(want)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no value after 60s: %s", query, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
