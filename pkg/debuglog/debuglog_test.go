package debuglog

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

const canary = "canary-Zq81xPw"

func TestTransportLogsWithoutSecrets(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	defer srv.Close()
	var buf bytes.Buffer
	Set(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer Set(nil)
	u, _ := url.Parse(srv.URL + "/api/v1/query?query=up&X-Amz-Signature=" + canary + "&token=" + canary)
	u.User = url.UserPassword("ann", canary)
	req, _ := http.NewRequest("GET", u.String(), nil)
	req.Header.Set("Authorization", "Bearer "+canary)
	resp, err := (&http.Client{Transport: Transport(nil)}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	out := buf.String()
	if !strings.Contains(out, "msg=http") || !strings.Contains(out, "status=204") || !strings.Contains(out, "query=up") {
		t.Fatalf("log: %s", out)
	}
	if strings.Contains(out, canary) {
		t.Fatalf("a secret reached the log: %s", out)
	}
}

func TestOffLogsNothing(t *testing.T) {
	Set(nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	if _, err := (&http.Client{Transport: Transport(nil)}).Get(srv.URL); err != nil {
		t.Fatal(err)
	}
}

func TestRedactSQL(t *testing.T) {
	in := "ALTER ROLE app\n  WITH PASSWORD '" + canary + "''s'; SELECT 1"
	got := RedactSQL(in)
	if strings.Contains(got, canary) || got != "ALTER ROLE app WITH PASSWORD 'REDACTED'; SELECT 1" {
		t.Fatalf("%q", got)
	}
}
