package maintenance_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/mail/smtptest"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/local/statefs"
)

func TestE2EOnOffStatusIdempotentAndExpiry(t *testing.T) {
	p := newProject(t, projectOpts{allow: []string{"10.0.0.0/8"}})
	if s := p.status(); s["on"] != false || s["since"] != nil || s["until"] != nil {
		t.Fatalf("initial status %v", s)
	}
	r := p.must("maintenance", "on", "--message", "Upgrading the database", "--until", "5s", "--reason", "db upgrade")
	if !strings.Contains(r.stderr, "maintenance is on") {
		t.Fatalf("stderr %q", r.stderr)
	}
	s := p.status()
	if s["on"] != true || s["active"] != true || s["message"] != "Upgrading the database" || s["by"] != "tester" || s["until"] == nil {
		t.Fatalf("status %v", s)
	}
	if allow := fmt.Sprint(s["allow"]); allow != "[10.0.0.0/8]" {
		t.Fatalf("allow-list from maintenance.allow: %s", allow)
	}
	r = p.must("maintenance", "on", "--message", "Upgrading the database", "--until", s["until"].(string))
	if !strings.Contains(r.stderr, "already on") {
		t.Fatalf("second on: %q", r.stderr)
	}
	waitFor(t, 20*time.Second, "status to show the window expired", func() bool { return p.status()["expired"] == true })
	r = p.must("maintenance", "status")
	if !strings.Contains(r.stdout, "expired") || !strings.Contains(r.stdout, "deployctl maintenance off") {
		t.Fatalf("table status: %s", r.stdout)
	}
	p.must("maintenance", "off")
	if r := p.must("maintenance", "off"); !strings.Contains(r.stderr, "already off") {
		t.Fatalf("second off: %q", r.stderr)
	}
	history := readFile(t, filepath.Join(p.dir, ".deployctl"), "history.jsonl")
	if strings.Count(history, `"command":"maintenance on"`) != 1 || strings.Count(history, `"command":"maintenance off"`) != 1 || !strings.Contains(history, "db upgrade") {
		t.Fatalf("history:\n%s", history)
	}
}

// readFile finds name under dir (the state folder's layout is the local
// provider's business) and returns its content.
func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	var found string
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && info.Name() == name {
			found = path
		}
		return nil
	})
	if found == "" {
		t.Fatalf("no %s under %s", name, dir)
	}
	b, _ := os.ReadFile(found)
	return string(b)
}

func TestE2EDryRunChangesNothing(t *testing.T) {
	p := newProject(t, projectOpts{})
	r := p.must("maintenance", "on", "--dry-run", "-m", "x")
	if !strings.Contains(r.stderr, "dry run") || p.status()["on"] != false {
		t.Fatalf("dry run: %q", r.stderr)
	}
	// a dry-run schedule prints no window id on stdout, as a real one does
	// (the mail it shows names the id a real run would give)
	r = p.must("maintenance", "schedule", "--start", "2h", "--duration", "30m", "--dry-run")
	windowID := regexp.MustCompile(`\b\d{8}-\d{4}\b`) // as 20261201-2200
	if strings.TrimSpace(r.stdout) != "" || !strings.Contains(r.stderr, "would record a window (") || !strings.Contains(r.stderr, "nothing was changed") {
		t.Fatalf("dry-run schedule: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	if l := p.must("maintenance", "list"); windowID.MatchString(l.stdout) {
		t.Fatalf("a dry run recorded a window:\n%s", l.stdout)
	}
}

func TestE2EBadInputExits2(t *testing.T) {
	p := newProject(t, projectOpts{})
	for _, args := range [][]string{
		{"maintenance", "on", "--allow", "banana"},
		{"maintenance", "on", "--allow", "10.0.0.0/40"},
		{"maintenance", "on", "--until", "2001-01-01T00:00:00Z"},
		{"maintenance", "schedule", "--start", "1h"},
		{"maintenance", "run"},
	} {
		if r := p.run(args...); r.code != 2 || !strings.HasPrefix(r.stderr, "error: ") {
			t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
	bad := newProject(t, projectOpts{allow: []string{"office-network"}})
	if r := bad.run("maintenance", "on"); r.code != 2 || !strings.Contains(r.stderr, "maintenance.allow") {
		t.Errorf("bad configured allow-list: exit %d %q", r.code, r.stderr)
	}
	if bad.status()["on"] != false {
		t.Error("a refused on changed something")
	}
}

func TestE2ELockedExits3(t *testing.T) {
	p := newProject(t, projectOpts{})
	p.must("maintenance", "status") // creates nothing, but proves the project loads
	l := &statefs.Locker{Dir: statefs.Root(filepath.Join(p.dir, ".deployctl"), "development")}
	release, err := l.Acquire(t.Context(), provider.Holder{Actor: "bob", Host: "ops-1", PID: os.Getpid(), Command: "rollout promote", Reason: "release 1.4", Since: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"on"}, {"off"}, {"run", "--", "touch", "ran"}, {"schedule", "--start", "2h", "--duration", "30m"}, {"cancel", "mw-none"}} {
		r := p.run(append([]string{"maintenance"}, args...)...)
		if r.code != 3 || !strings.Contains(r.stderr, "bob") || !strings.Contains(r.stderr, "release 1.4") {
			t.Errorf("%s while locked: exit %d %q", args[0], r.code, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(p.dir, "ran")); err == nil {
		t.Error("maintenance run ran its command although it could not switch maintenance on")
	}
	release()
	p.must("maintenance", "on")
	if p.status()["on"] != true {
		t.Fatal("on after the lock was released did not switch on")
	}
}

const canary = "canary-SMTP-pw-5d41402a"

func mailProject(t *testing.T, port int) *project {
	p := newProject(t, projectOpts{notify: true, dotenv: fmt.Sprintf("EMAIL_HOST=127.0.0.1\nEMAIL_PORT=%d\nEMAIL_USER=mailer\nEMAIL_PASSWORD=%s\n", port, canary)})
	return p
}

func TestE2EScheduleAnnouncesOverSTARTTLSWithAuth(t *testing.T) {
	srv := smtptest.Start(t, "mailer", canary)
	p := mailProject(t, srv.Port)
	p.env = append(p.env, "SSL_CERT_FILE="+srv.CAFile)
	start := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Minute)
	r := p.must("maintenance", "schedule", "--start", start.Format(time.RFC3339), "--duration", "90m", "--message", "Database upgrade to PostgreSQL 16", "-o", "json")
	var res struct {
		Window struct {
			ID          string   `json:"id"`
			AnnouncedTo []string `json:"announced_to"`
		} `json:"window"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || res.Window.ID == "" || len(res.Window.AnnouncedTo) != 2 {
		t.Fatalf("schedule JSON %v: %s", err, r.stdout)
	}
	// `maintenance cancel <TAB>` completes the window's id from the state
	if c := p.must("__complete", "maintenance", "cancel", ""); !strings.HasPrefix(c.stdout, res.Window.ID+"\t") || !strings.Contains(c.stdout, "Database upgrade") {
		t.Fatalf("completion of cancel: %q", c.stdout)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || srv.Logins() != 1 || strings.Join(msgs[0].To, ",") != "ops@example.com,team@example.com" || msgs[0].From != "deployctl@example.com" {
		t.Fatalf("messages %+v, logins %d", msgs, srv.Logins())
	}
	subject, body := decoded(t, msgs[0].Data)
	if want := "Scheduled maintenance of development: " + start.Format("Mon, 02 Jan 2006 15:04") + "-"; !strings.HasPrefix(subject, want) {
		t.Errorf("subject %q, want %q…", subject, want)
	}
	for _, want := range []string{"Database upgrade to PostgreSQL 16", "Start:    " + start.Format(time.RFC3339), "End:      " + start.Add(90*time.Minute).Format(time.RFC3339), "Duration: 1h30m", res.Window.ID} {
		if !strings.Contains(body, want) {
			t.Errorf("mail lacks %q:\n%s", want, body)
		}
	}
	list := p.must("maintenance", "list")
	if !strings.Contains(list.stdout, res.Window.ID) || !strings.Contains(list.stdout, "upcoming") || !strings.Contains(list.stdout, "2 recipients") {
		t.Fatalf("list:\n%s", list.stdout)
	}
	overlap := p.run("maintenance", "schedule", "--start", start.Add(time.Hour).Format(time.RFC3339), "--duration", "1h")
	if overlap.code != 1 || !strings.Contains(overlap.stderr, "overlaps window "+res.Window.ID) || len(srv.Messages()) != 1 {
		t.Fatalf("overlap: exit %d %q", overlap.code, overlap.stderr)
	}
	cancel := p.must("maintenance", "cancel", res.Window.ID)
	msgs = srv.Messages()
	if len(msgs) != 2 {
		t.Fatalf("cancellation not announced: %+v", msgs)
	}
	if subject, _ := decoded(t, msgs[1].Data); !strings.HasPrefix(subject, "Cancelled: maintenance of development") {
		t.Fatalf("cancellation subject %q", subject)
	}
	if r := p.run("maintenance", "cancel", res.Window.ID); r.code != 1 || !strings.Contains(r.stderr, "maintenance list") {
		t.Fatalf("cancel again: exit %d %q", r.code, r.stderr)
	}
	assertNoSecret(t, p.dir, canary, r.stdout, r.stderr, list.stdout, list.stderr, overlap.stderr, cancel.stderr)
}

func TestE2EScheduleWithSMTPDownRecordsNothing(t *testing.T) {
	p := mailProject(t, freePort(t))
	r := p.run("maintenance", "schedule", "--start", "2h", "--duration", "30m")
	if r.code != 4 || !strings.Contains(r.stderr, "window not recorded") {
		t.Fatalf("exit %d %q", r.code, r.stderr)
	}
	if l := p.must("maintenance", "list", "-o", "json"); !strings.Contains(l.stdout, `"windows": []`) {
		t.Fatalf("list after failure: %s", l.stdout)
	}
	srv := smtptest.Start(t, "mailer", "not-"+canary) // a server that refuses the password
	p = mailProject(t, srv.Port)
	p.env = append(p.env, "SSL_CERT_FILE="+srv.CAFile)
	r = p.run("maintenance", "schedule", "--start", "2h", "--duration", "30m")
	if r.code != 1 || len(srv.Messages()) != 0 {
		t.Fatalf("refused login: exit %d %q", r.code, r.stderr)
	}
	assertNoSecret(t, p.dir, canary, r.stdout, r.stderr)
}

func TestE2ERun(t *testing.T) {
	p := newProject(t, projectOpts{})
	p.startSlots()
	r := p.must("maintenance", "run", "--message", "migrating", "--", "sh", "-c", "echo migrated")
	if !strings.Contains(r.stdout, "migrated") || !strings.Contains(r.stderr, "maintenance is off") || p.status()["on"] != false {
		t.Fatalf("run success: %q %q", r.stdout, r.stderr)
	}
	r = p.run("maintenance", "run", "--", "sh", "-c", "echo half-done >&2; exit 3")
	if r.code != 1 || !strings.Contains(r.stderr, "status 3") || !strings.Contains(r.stderr, "maintenance off") {
		t.Fatalf("run failure: exit %d %q", r.code, r.stderr)
	}
	if s := p.status(); s["on"] != true || s["message"] != "" {
		t.Fatalf("after a failed command maintenance must stay on: %v", s)
	}
	p.must("maintenance", "off")
	history := readFile(t, filepath.Join(p.dir, ".deployctl"), "history.jsonl")
	if strings.Count(history, `"command":"maintenance run"`) != 2 || !strings.Contains(history, `"result":"failed"`) {
		t.Fatalf("history:\n%s", history)
	}
}

func TestE2ERunHealthFailureStaysOn(t *testing.T) {
	p := newProject(t, projectOpts{})
	// blue's database is unreachable: its readiness answers 503
	p.startSlots("--database-url", fmt.Sprintf("postgres://app:pw@127.0.0.1:%d/app?sslmode=disable", freePort(t)), "--db-timeout", "200ms")
	r := p.run("maintenance", "run", "--health-timeout", "1s", "--", "true")
	if r.code != 1 || !strings.Contains(r.stderr, "blue is not ready") {
		t.Fatalf("exit %d %q", r.code, r.stderr)
	}
	if p.status()["on"] != true {
		t.Fatal("maintenance was switched off although blue is not ready")
	}
}

// The readiness check after the command probes health.readiness_path as the
// environment sets it, not the default path: a slot that answers only the
// default path is not ready for an environment that names another one.
func TestE2ERunProbesTheConfiguredReadinessPath(t *testing.T) {
	p := newProject(t, projectOpts{})
	p.startSlots()
	p.env = append(p.env, "DEPLOYCTL_HEALTH_READINESS_PATH=/health/not-here")
	r := p.run("maintenance", "run", "--health-timeout", "1s", "--", "true")
	if r.code != 1 || !strings.Contains(r.stderr, "blue is not ready") {
		t.Fatalf("readiness on a path the slot does not serve: exit %d %q", r.code, r.stderr)
	}
	if p.status()["on"] != true {
		t.Fatal("maintenance was switched off although readiness_path does not answer")
	}
	p.must("maintenance", "off")
	p.env = p.env[:len(p.env)-1]
	p.must("maintenance", "run", "--", "true")
}
