package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/mail"
	"github.com/deployctl/deployctl/pkg/mail/smtptest"
)

const (
	secretCanary = "whsec-CANARY-5f1e"
	tokenCanary  = "TOKEN-CANARY-77ab"
)

// request is what a test server received.
type request struct {
	Path, Signature, Event, ContentType string
	Body                                []byte
}

// sink is a local HTTP server that records requests and answers with the
// statuses of answers in turn (200 once they run out).
type sink struct {
	*httptest.Server
	mu      sync.Mutex
	got     []request
	answers []int
}

func newSink(t *testing.T, answers ...int) *sink {
	s := &sink{answers: answers}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.got = append(s.got, request{r.URL.RequestURI(), r.Header.Get(SignatureHeader), r.Header.Get("X-Deployctl-Event"), r.Header.Get("Content-Type"), body})
		code := http.StatusOK
		if len(s.answers) > 0 {
			code, s.answers = s.answers[0], s.answers[1:]
		}
		s.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *sink) requests() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.got...)
}

var fixed = time.Date(2026, 12, 3, 14, 0, 0, 0, time.UTC)

func event() Event {
	return Event{Kind: ReleaseFailed, Env: "production", Time: fixed, Actor: "alice", Summary: "release v42 failed at step traffic 50%",
		Fields: map[string]string{"release": "v42", "step": "traffic"}}
}

// warnings collects Warnf lines.
type warnings struct {
	mu    sync.Mutex
	lines []string
}

func (w *warnings) Warnf(format string, a ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lines = append(w.lines, strings.TrimSpace(sprintf(format, a...)))
}

func (w *warnings) all() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.lines, "\n")
}

func vars(m map[string]string) func(context.Context, string) (string, error) {
	return func(_ context.Context, name string) (string, error) { return m[name], nil }
}

func TestWebhookBodyIsTheEventAndSignedWithTheSecret(t *testing.T) {
	srv := newSink(t)
	n := New(Options{
		Targets: []Target{{Name: "ops", Type: TypeWebhook, URLFrom: "OPS_HOOK", SecretFrom: "OPS_SECRET"}},
		Resolve: vars(map[string]string{"OPS_HOOK": srv.URL + "/hooks/" + tokenCanary, "OPS_SECRET": secretCanary}),
	})
	ds := n.Notify(t.Context(), event())
	if len(ds) != 1 || !ds[0].OK || ds[0].Status != 200 || ds[0].Target != "ops" || ds[0].Kind != ReleaseFailed {
		t.Fatalf("deliveries: %+v", ds)
	}
	got := srv.requests()
	if len(got) != 1 {
		t.Fatalf("requests: %d", len(got))
	}
	want := `{"kind":"release.failed","env":"production","time":"2026-12-03T14:00:00Z","actor":"alice","summary":"release v42 failed at step traffic 50%","fields":{"release":"v42","step":"traffic"}}`
	if string(got[0].Body) != want {
		t.Errorf("body:\n got %s\nwant %s", got[0].Body, want)
	}
	// HMAC-SHA256 of the body with the secret, as openssl dgst -sha256 -hmac computes it.
	if got[0].Signature != "sha256=7f4a6d9db1ea9b02af80479ea0e0f5be4c68aef8483040f711e18996118d8920" {
		t.Errorf("signature %q", got[0].Signature)
	}
	if !verify(secretCanary, []byte(want), got[0].Signature) {
		t.Errorf("signature %q does not verify", got[0].Signature)
	}
	if got[0].Path != "/hooks/"+tokenCanary || got[0].Event != "release.failed" || got[0].ContentType != "application/json" {
		t.Errorf("request: %+v", got[0])
	}
}

func TestWebhookWithoutSecretIsNotSigned(t *testing.T) {
	srv := newSink(t)
	New(Options{Targets: []Target{{Name: "w", Type: TypeWebhook, URL: srv.URL}}}).Notify(t.Context(), event())
	if got := srv.requests(); len(got) != 1 || got[0].Signature != "" {
		t.Fatalf("requests: %+v", got)
	}
}

func TestSlackGetsTheIncomingWebhookText(t *testing.T) {
	srv := newSink(t)
	New(Options{Targets: []Target{{Name: "chat", Type: TypeSlack, URL: srv.URL + "/services/T0/B0/" + tokenCanary}}}).Notify(t.Context(), event())
	got := srv.requests()
	if len(got) != 1 {
		t.Fatalf("requests: %d", len(got))
	}
	var msg map[string]string
	if err := json.Unmarshal(got[0].Body, &msg); err != nil {
		t.Fatal(err)
	}
	want := "[production] release.failed: release v42 failed at step traffic 50%\nrelease: v42\nstep: traffic"
	if len(msg) != 1 || msg["text"] != want {
		t.Errorf("slack body %s, want text %q", got[0].Body, want)
	}
}

func TestA500IsRetriedOnce(t *testing.T) {
	srv := newSink(t, 500, 200)
	ds := New(Options{Targets: []Target{{Name: "ops", Type: TypeWebhook, URL: srv.URL}}}).Notify(t.Context(), event())
	if len(srv.requests()) != 2 || !ds[0].OK || ds[0].Status != 200 {
		t.Fatalf("requests %d, deliveries %+v", len(srv.requests()), ds)
	}
	if b := srv.requests(); string(b[0].Body) != string(b[1].Body) {
		t.Error("the retry sent another body")
	}
}

func TestTwo500sFailWithTheStatusAndAWarning(t *testing.T) {
	srv := newSink(t, 503, 502)
	var w warnings
	ds := New(Options{Targets: []Target{{Name: "ops", Type: TypeWebhook, URL: srv.URL + "/x?token=" + tokenCanary}}, Warnf: w.Warnf}).Notify(t.Context(), event())
	if len(srv.requests()) != 2 || ds[0].OK || ds[0].Status != 502 {
		t.Fatalf("requests %d, deliveries %+v", len(srv.requests()), ds)
	}
	if !strings.Contains(ds[0].Err, "HTTP 502") || !strings.Contains(w.all(), "to ops was not delivered") || !strings.Contains(w.all(), "HTTP 502") {
		t.Errorf("error %q, warnings %q", ds[0].Err, w.all())
	}
	noCanary(t, ds[0].Err+w.all())
}

func TestA4xxIsNotRetried(t *testing.T) {
	srv := newSink(t, 404, 200)
	ds := New(Options{Targets: []Target{{Name: "ops", Type: TypeWebhook, URL: srv.URL}}}).Notify(t.Context(), event())
	if len(srv.requests()) != 1 || ds[0].OK || ds[0].Status != 404 {
		t.Fatalf("requests %d, deliveries %+v", len(srv.requests()), ds)
	}
}

func TestAHangingTargetTimesOutWhileTheOthersAreDelivered(t *testing.T) {
	release := make(chan struct{})
	var hits atomic.Int32
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) })
	ok := newSink(t)
	var w warnings
	n := New(Options{
		Targets: []Target{{Name: "slow", Type: TypeWebhook, URL: hang.URL + "/" + tokenCanary}, {Name: "fast", Type: TypeWebhook, URL: ok.URL}},
		Timeout: 300 * time.Millisecond, Warnf: w.Warnf,
	})
	ds := n.Notify(t.Context(), event())
	if len(ds) != 2 || ds[0].Target != "slow" || ds[0].OK || ds[1].Target != "fast" || !ds[1].OK {
		t.Fatalf("deliveries: %+v", ds)
	}
	if !strings.Contains(ds[0].Err, "did not answer in time") || !strings.Contains(w.all(), "slow") {
		t.Errorf("error %q, warnings %q", ds[0].Err, w.all())
	}
	noCanary(t, ds[0].Err+w.all())
}

func TestANetworkErrorIsRetriedAndNamesOnlyTheHost(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL + "/hooks/" + tokenCanary
	srv.Close() // nothing listens there now
	ds := New(Options{Targets: []Target{{Name: "gone", Type: TypeWebhook, URL: u}}}).Notify(t.Context(), event())
	if ds[0].OK || ds[0].Status != 0 || !strings.Contains(ds[0].Err, strings.TrimPrefix(srv.URL, "")) {
		t.Fatalf("deliveries: %+v", ds)
	}
	noCanary(t, ds[0].Err)
}

func TestEventsFilterTheTargets(t *testing.T) {
	all, some := newSink(t), newSink(t)
	n := New(Options{Targets: []Target{
		{Name: "all", Type: TypeWebhook, URL: all.URL},
		{Name: "some", Type: TypeWebhook, URL: some.URL, Events: []Kind{MaintenanceOn, MaintenanceOff}},
	}})
	ds := n.Notify(t.Context(), event())
	if len(ds) != 1 || ds[0].Target != "all" {
		t.Fatalf("deliveries: %+v", ds)
	}
	e := event()
	e.Kind = MaintenanceOn
	if ds := n.Notify(t.Context(), e); len(ds) != 2 {
		t.Fatalf("deliveries: %+v", ds)
	}
	if len(all.requests()) != 2 || len(some.requests()) != 1 {
		t.Errorf("requests: all %d, some %d", len(all.requests()), len(some.requests()))
	}
}

func TestAMissingVariableFailsTheTargetOnly(t *testing.T) {
	ok := newSink(t)
	var w warnings
	n := New(Options{Targets: []Target{{Name: "a", Type: TypeSlack, URLFrom: "SLACK_URL"}, {Name: "b", Type: TypeWebhook, URL: ok.URL}},
		Resolve: vars(nil), Warnf: w.Warnf})
	ds := n.Notify(t.Context(), event())
	if ds[0].OK || !strings.Contains(ds[0].Err, "SLACK_URL is not set") || !ds[1].OK {
		t.Fatalf("deliveries: %+v", ds)
	}
}

func TestEmailGoesThroughTheSMTPServer(t *testing.T) {
	const password = "smtp-CANARY-pw"
	srv := smtptest.Start(t, "mailer@example.com", password)
	s := mail.Settings{Host: srv.Host, Port: srv.Port, User: srv.User, Password: password, RootCAs: srv.Pool, Timeout: 5 * time.Second}
	n := New(Options{Targets: []Target{{Name: "oncall", Type: TypeEmail, To: []string{"oncall@example.com", "ops@example.com"}}},
		Mail: SMTPMailer(s, "deployctl@example.com")})
	ds := n.Notify(t.Context(), event())
	if len(ds) != 1 || !ds[0].OK {
		t.Fatalf("deliveries: %+v", ds)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].From != "deployctl@example.com" || strings.Join(msgs[0].To, ",") != "oncall@example.com,ops@example.com" {
		t.Fatalf("messages: %+v", msgs)
	}
	for _, want := range []string{"Subject: [deployctl] production: release.failed: release v42 failed at step traffic 50%", "Actor:       alice", "release: v42"} {
		if !strings.Contains(msgs[0].Data, want) {
			t.Errorf("message lacks %q:\n%s", want, msgs[0].Data)
		}
	}
}

func TestEmailWithAWrongPasswordFailsWithoutTheNewPassword(t *testing.T) {
	const wrong = "smtp-CANARY-wrong"
	srv := smtptest.Start(t, "mailer@example.com", "right")
	s := mail.Settings{Host: srv.Host, Port: srv.Port, User: srv.User, Password: wrong, RootCAs: srv.Pool, Timeout: 5 * time.Second}
	ds := New(Options{Targets: []Target{{Name: "m", Type: TypeEmail, To: []string{"a@example.com"}}}, Mail: SMTPMailer(s, "d@example.com")}).Notify(t.Context(), event())
	if ds[0].OK || ds[0].Err == "" || strings.Contains(ds[0].Err, wrong) {
		t.Fatalf("deliveries: %+v", ds)
	}
}

func TestAPanickingMailerIsADeliveryFailure(t *testing.T) {
	n := New(Options{Targets: []Target{{Name: "m", Type: TypeEmail, To: []string{"a@example.com"}}},
		Mail: func(context.Context, string, []string, string, string) error { panic("boom") }})
	ds := n.Notify(t.Context(), event())
	if ds[0].OK || !strings.Contains(ds[0].Err, "internal error: boom") {
		t.Fatalf("deliveries: %+v", ds)
	}
}

func TestNotifyFillsTimeAndEnv(t *testing.T) {
	srv := newSink(t)
	n := New(Options{Targets: []Target{{Name: "w", Type: TypeWebhook, URL: srv.URL}}, Env: "staging", Now: func() time.Time { return fixed }})
	n.Notify(t.Context(), Event{Kind: MaintenanceOff, Summary: "off"})
	var e Event
	if err := json.Unmarshal(srv.requests()[0].Body, &e); err != nil {
		t.Fatal(err)
	}
	if e.Env != "staging" || !e.Time.Equal(fixed) {
		t.Errorf("event: %+v", e)
	}
}

func TestNopAndNoTargetsSendNothing(t *testing.T) {
	if ds := Nop().Notify(t.Context(), event()); ds != nil {
		t.Errorf("nop: %+v", ds)
	}
	if _, ok := New(Options{}).(nop); !ok {
		t.Error("New without targets is not Nop")
	}
}

func TestCheckTargets(t *testing.T) {
	ts, probs := CheckTargets([]Target{
		{Type: "pager", URL: "https://x.example"},
		{Type: TypeWebhook, Events: []Kind{"release.exploded"}},
		{Type: TypeSlack, URL: "ftp://x/" + tokenCanary},
		{Type: TypeEmail},
		{Name: "ops", Type: TypeWebhook, URL: "https://a.example", URLFrom: "X"},
		{Name: "ops", Type: TypeSlack, URLFrom: "S"},
	})
	all := strings.Join(probs, "\n")
	for _, want := range []string{
		`notify.targets[0].type "pager" is not a target type: use one of webhook, slack, email`,
		`notify.targets[1].events: "release.exploded" is not an event: use any of release.started, release.succeeded, release.failed, release.aborted, release.step_breached, backup.verify_failed, maintenance.on, maintenance.off`,
		"notify.targets[1]: a webhook target needs url, or url_from",
		"notify.targets[2].url ftp://x is not an http(s) URL",
		"notify.targets[3].to: an email target needs at least one recipient",
		"notify.targets[4]: give url or url_from, not both",
		`notify.targets[5].name "ops" is used by another target`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %q:\n%s", want, all)
		}
	}
	noCanary(t, all)
	if ts[0].Name != "pager" || ts[1].Name != "webhook-2" || ts[3].Name != "email" {
		t.Errorf("default names: %q %q %q", ts[0].Name, ts[1].Name, ts[3].Name)
	}
	if _, probs := CheckTargets([]Target{{Type: TypeWebhook, URLFrom: "H", SecretFrom: "S", Events: []Kind{ReleaseFailed}}, {Type: TypeEmail, To: []string{"a@example.com"}}}); len(probs) != 0 {
		t.Errorf("valid targets refused: %v", probs)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://hooks.slack.com/services/T/B/" + tokenCanary: "https://hooks.slack.com",
		"http://user:" + secretCanary + "@h:8080/p?t=1":       "http://h:8080",
		"not a url": "<url>",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func noCanary(t *testing.T, s string) {
	t.Helper()
	for _, c := range []string{secretCanary, tokenCanary} {
		if strings.Contains(s, c) {
			t.Errorf("%s leaked: %s", c, s)
		}
	}
}
