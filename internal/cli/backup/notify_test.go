package backup_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const (
	verifyHookSecret = "whsec-CANARY-verify-3e7"
	verifyHookToken  = "tok-CANARY-verify-8d2"
)

// A failed verify sends backup.verify_failed, signed, to the notify:
// targets; a target that fails is a warning and verify still exits 1.
func TestFailedVerifySendsBackupVerifyFailed(t *testing.T) {
	var mu sync.Mutex
	var got []map[string]any
	var sigOK []bool
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		m := hmac.New(sha256.New, []byte(verifyHookSecret))
		m.Write(body)
		var ev map[string]any
		_ = json.Unmarshal(body, &ev)
		mu.Lock()
		got, sigOK = append(got, ev), append(sigOK, r.Header.Get("X-Deployctl-Signature") == "sha256="+hex.EncodeToString(m.Sum(nil)))
		mu.Unlock()
	}))
	t.Cleanup(hook.Close)
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) }))
	t.Cleanup(broken.Close)
	p := newProject(t, `notify:
  targets:
    - {name: ops, type: webhook, url_from: OPS_HOOK, secret_from: OPS_SECRET, events: [backup.verify_failed]}
    - {name: broken, type: webhook, url_from: BROKEN_HOOK}
    - {name: releases, type: webhook, url_from: OPS_HOOK, events: [release.failed]}
`)
	p.env = append(p.env, "OPS_HOOK="+hook.URL+"/in/"+verifyHookToken, "OPS_SECRET="+verifyHookSecret, "BROKEN_HOOK="+broken.URL+"/in/"+verifyHookToken)
	must(t, os.MkdirAll(filepath.Join(p.dir, "backups"), 0o700))

	r := p.run("backup", "verify", "latest", "--max-age", "26h")
	code, out, errOut := r.code, r.out, r.err
	if code != 1 || out != "" || !strings.Contains(errOut, "no backup at all") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if !strings.Contains(errOut, "notification backup.verify_failed to broken was not delivered") || !strings.Contains(errOut, "HTTP 502") {
		t.Errorf("the failing target is not reported: %q", errOut)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0]["kind"] != "backup.verify_failed" || got[0]["env"] != "development" || got[0]["actor"] != "alice" ||
		!strings.Contains(got[0]["summary"].(string), "there is no backup at all") || !sigOK[0] {
		t.Fatalf("events %v, signatures ok %v", got, sigOK)
	}
	history := ""
	filepath.Walk(p.dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && info.Name() == "history.jsonl" {
			b, _ := os.ReadFile(path)
			history = string(b)
		}
		return nil
	})
	if !strings.Contains(history, `"command":"backup verify"`) || !strings.Contains(history, `"target":"broken"`) {
		t.Errorf("deliveries not in the history:\n%s", history)
	}
	for _, s := range []string{verifyHookSecret, verifyHookToken} {
		if strings.Contains(errOut+out+history, s) {
			t.Errorf("%s leaked: %s %s %s", s, out, errOut, history)
		}
	}
}
