package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deployctl/deployctl/pkg/postgres/pgtest"
)

var pg *pgtest.Cluster

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

func startApp(t *testing.T, args ...string) *httptest.Server {
	t.Helper()
	o, err := parseOptions(args, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a := newApp(o)
	srv := httptest.NewServer(a.handler())
	t.Cleanup(func() { srv.Close(); a.db.close() })
	return srv
}

func get(t *testing.T, u string) (int, map[string]string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

func TestParseOptions(t *testing.T) {
	env := []string{"PORT=4000", "DEMO_API_VERSION=v7", "DEMO_API_SLOT=green", "DATABASE_URL=postgres://x@h/db"}
	o, err := parseOptions([]string{"--slot", "blue"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Listen != "127.0.0.1:4000" || o.VersionName != "v7" || o.Slot != "blue" || o.DatabaseURL != "postgres://x@h/db" {
		t.Fatalf("options = %+v", o)
	}
	for _, bad := range [][]string{{"--error-rate", "2"}, {"--nope"}, {"extra"}, {"--delay", "-1s"}} {
		if _, err := parseOptions(bad, nil, io.Discard); err == nil {
			t.Errorf("%v: accepted", bad)
		}
	}
}

func TestRootAnswersVersionAndSlot(t *testing.T) {
	srv := startApp(t, "--version-name", "v2", "--slot", "green")
	code, body := get(t, srv.URL+"/")
	if code != 200 || body["version"] != "v2" || body["slot"] != "green" {
		t.Fatalf("GET / = %d %v", code, body)
	}
	if code, _ := get(t, srv.URL+"/nope"); code != 404 {
		t.Fatalf("GET /nope = %d", code)
	}
	if code, body := get(t, srv.URL+"/health"); code != 200 || body["status"] != "ok" {
		t.Fatalf("GET /health = %d %v", code, body)
	}
	if code, body := get(t, srv.URL+"/health/readiness"); code != 200 || body["database"] != "not configured" {
		t.Fatalf("readiness without database = %d %v", code, body)
	}
}

func TestReadinessFollowsTheDatabase(t *testing.T) {
	dbURL := pg.NewDatabase(t)
	name := strings.TrimPrefix(mustParse(t, dbURL).Path, "/")
	srv := startApp(t, "--database-url", dbURL, "--db-timeout", "2s")
	if code, body := get(t, srv.URL+"/health/readiness"); code != 200 || body["database"] != "ok" {
		t.Fatalf("readiness with database = %d %v", code, body)
	}
	ctx := t.Context()
	if err := pg.Exec(ctx, "postgres", "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Fatal(err)
	}
	code, body := get(t, srv.URL+"/health/readiness")
	if code != 503 || body["status"] != "unavailable" || !strings.Contains(body["database"], "does not exist") {
		t.Fatalf("readiness after the database went away = %d %v", code, body)
	}
	if code, _ := get(t, srv.URL+"/health"); code != 200 {
		t.Fatalf("liveness must not depend on the database: %d", code)
	}
	if err := pg.Exec(ctx, "postgres", "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, srv.URL+"/health/readiness"); code != 200 {
		t.Fatalf("readiness after the database came back = %d %v", code, body)
	}
}

func TestReadinessUnreachableAndNoPassword(t *testing.T) {
	const canary = "canary-Pw-9f3b2"
	bad := pg.CreateRole(t, "demo_canary", "other-password", "postgres")
	bad = strings.Replace(bad, "other-password", canary, 1)
	srv := startApp(t, "--database-url", bad)
	code, body := get(t, srv.URL+"/health/readiness")
	if code != 503 || strings.Contains(body["database"], canary) {
		t.Fatalf("wrong password: %d %v", code, body)
	}
	closed := "postgres://u:" + canary + "@127.0.0.1:1/db?sslmode=disable"
	srv = startApp(t, "--database-url", closed, "--db-timeout", "500ms")
	code, body = get(t, srv.URL+"/health/readiness")
	if code != 503 || strings.Contains(body["database"], canary) || !strings.Contains(body["database"], "xxxxx") {
		t.Fatalf("closed port: %d %v", code, body)
	}
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestErrorRateIsDeterministic(t *testing.T) {
	srv := startApp(t, "--error-rate", "0.25")
	fails := 0
	for range 40 {
		if code, _ := get(t, srv.URL+"/"); code == 500 {
			fails++
		}
	}
	if fails != 10 {
		t.Fatalf("%d of 40 failed, want 10", fails)
	}
}

func TestMetrics(t *testing.T) {
	srv := startApp(t, "--slot", "green", "--error-rate", "0.5")
	for range 4 {
		get(t, srv.URL+"/")
	}
	get(t, srv.URL+"/health")
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`http_requests_total{slot="green",code="200"} 2`,
		`http_requests_total{slot="green",code="500"} 2`,
		`http_request_duration_seconds_bucket{slot="green",le="+Inf"} 4`,
		`http_request_duration_seconds_count{slot="green"} 4`,
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("metrics lack %q:\n%s", want, text)
		}
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool not installed: exposition format not linted")
		return
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(string(text))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestBinaryDrainsOnSIGTERM runs the built binary like an operator: a slow
// request in flight when SIGTERM arrives still gets its answer.
func TestBinaryDrainsOnSIGTERM(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "demo-api")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, _ := exec.Command(bin, "--version", "--version-name", "v9").Output()
	if strings.TrimSpace(string(out)) != "demo-api v9 (build dev)" {
		t.Fatalf("--version = %q", out)
	}
	cmd := exec.Command(bin, "--listen", "127.0.0.1:0", "--delay", "300ms", "--slot", "green")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	base := listenURL(t, stderr)
	done := make(chan int, 1)
	go func() {
		resp, err := http.Get(base + "/")
		if err != nil {
			done <- -1
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	time.Sleep(100 * time.Millisecond) // let the slow request reach the handler
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if code := <-done; code != 200 {
		t.Fatalf("request in flight during SIGTERM got %d", code)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}

func listenURL(t *testing.T, r io.Reader) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
			}
		}
	}()
	for {
		select {
		case l := <-lines:
			if _, u, ok := strings.Cut(l, "listening on "); ok {
				return u
			}
		case <-ctx.Done():
			t.Fatal("demo-api did not say where it listens")
		}
	}
}
