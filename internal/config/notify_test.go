package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/notify"
)

func loadDoc(t *testing.T, doc string) (*Loaded, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "production.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return load(t, dir, "production")
}

func TestNotifyTargetsLoad(t *testing.T) {
	l, err := loadDoc(t, `notify:
  targets:
    - {name: ops, type: webhook, url_from: OPS_HOOK, secret_from: OPS_SECRET, events: [release.failed, backup.verify_failed]}
    - {type: slack, url_from: SLACK_URL}
    - {type: email, to: [oncall@example.com]}
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Warnings) != 0 {
		t.Errorf("warnings: %v", l.Warnings)
	}
	ts := l.NotifyTargets()
	if len(ts) != 3 || ts[0].Name != "ops" || ts[0].SecretFrom != "OPS_SECRET" || len(ts[0].Events) != 2 || ts[0].Events[1] != notify.BackupVerifyFailed ||
		ts[1].Name != "slack" || ts[1].URLFrom != "SLACK_URL" || ts[2].Name != "email" || ts[2].To[0] != "oncall@example.com" {
		t.Fatalf("targets: %+v", ts)
	}
	if l.Notify.Timeout != 5*time.Second {
		t.Errorf("default timeout %v", l.Notify.Timeout)
	}
}

func TestNoNotifySectionIsNoTargets(t *testing.T) {
	l, err := loadDoc(t, "protected: true\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(l.NotifyTargets()) != 0 {
		t.Errorf("targets: %+v", l.NotifyTargets())
	}
}

func TestBadNotifyTargetsAreConfigErrors(t *testing.T) {
	for doc, want := range map[string]string{
		"notify:\n  targets:\n    - {type: pager, url: https://x.example}\n":                  `type "pager" is not a target type: use one of webhook, slack, email`,
		"notify:\n  targets:\n    - {type: slack, url_from: S, events: [release.exploded]}\n": `"release.exploded" is not an event: use any of release.started,`,
		"notify:\n  targets:\n    - {type: webhook, urlfrom: HOOK}\n":                         `unknown key "urlfrom": a target takes events, from, name, secret_from, to, type, url, url_from`,
		"notify:\n  targets:\n    - {type: email}\n":                                          "an email target needs at least one recipient",
	} {
		_, err := loadDoc(t, doc)
		var cerr *Error
		if !errors.As(err, &cerr) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want a config error with %q", doc, err, want)
		}
	}
}
