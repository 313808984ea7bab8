package mail

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/mail/smtptest"
	"github.com/deployctl/deployctl/pkg/provider"
)

const canary = "pw-CANARY-91b2"

func settings(srv *smtptest.Server, password string) Settings {
	return Settings{Host: srv.Host, Port: srv.Port, User: srv.User, Password: password, RootCAs: srv.Pool, Timeout: 5 * time.Second}
}

func TestProbeStartTLSAndAuth(t *testing.T) {
	srv := smtptest.Start(t, "mailer@example.com", canary)
	if err := Probe(t.Context(), settings(srv, canary)); err != nil {
		t.Fatal(err)
	}
	if srv.Logins() != 1 {
		t.Errorf("logins: %d", srv.Logins())
	}
}

func TestProbeWithoutUserSkipsAuth(t *testing.T) {
	srv := smtptest.Start(t, "u", "p")
	s := settings(srv, "")
	s.User = ""
	if err := Probe(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	if srv.Logins() != 0 {
		t.Error("logged in without a user")
	}
}

func TestProbeWrongPasswordFailsClearly(t *testing.T) {
	srv := smtptest.Start(t, "mailer@example.com", "the-right-one")
	err := Probe(t.Context(), settings(srv, canary))
	if err == nil {
		t.Fatal("wrong password accepted")
	}
	var unreach *provider.UnreachableError
	if errors.As(err, &unreach) {
		t.Errorf("a refused login is not unreachable: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"refused the login", `"mailer@example.com"`, "535", "EMAIL_PASSWORD", srv.Addr()} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, canary) {
		t.Errorf("password in the error: %s", msg)
	}
}

func TestProbeUnreachable(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	err := Probe(t.Context(), Settings{Host: "127.0.0.1", Port: port, User: "u", Password: canary, Timeout: 2 * time.Second})
	var unreach *provider.UnreachableError
	if !errors.As(err, &unreach) || !strings.Contains(err.Error(), "SMTP server 127.0.0.1:") {
		t.Fatalf("want unreachable, got %v", err)
	}
	if strings.Contains(err.Error(), canary) {
		t.Error("password in the error")
	}
}

func TestProbeSilentServerTimesOut(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // accept, never greet
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	err := Probe(t.Context(), Settings{Host: "127.0.0.1", Port: port, Timeout: 200 * time.Millisecond})
	var unreach *provider.UnreachableError
	if !errors.As(err, &unreach) {
		t.Fatalf("a server that never answers is unreachable: %v", err)
	}
}

func TestProbeCancelled(t *testing.T) {
	srv := smtptest.Start(t, "u", "p")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := Probe(ctx, settings(srv, "p")); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

func TestProbeUntrustedCertificate(t *testing.T) {
	srv := smtptest.Start(t, "u", "p")
	s := settings(srv, "p")
	s.RootCAs = nil // the system pool does not know the test CA
	err := Probe(t.Context(), s)
	if err == nil || !strings.Contains(err.Error(), "TLS failed") || !strings.Contains(err.Error(), "SSL_CERT_FILE") {
		t.Fatalf("got %v", err)
	}
}

func TestSend(t *testing.T) {
	srv := smtptest.Start(t, "mailer@example.com", canary)
	m := Message{From: "ops@example.com", To: []string{"team@example.com", "Oncall <oncall@example.com>"},
		Subject: "Maintenance — Sunday 02:00", Body: "The API will be down.\nBack by 03:00."}
	if err := Send(t.Context(), settings(srv, canary), m); err != nil {
		t.Fatal(err)
	}
	got := srv.Messages()
	if len(got) != 1 {
		t.Fatalf("messages: %+v", got)
	}
	g := got[0]
	if g.From != "ops@example.com" || len(g.To) != 2 || g.To[1] != "oncall@example.com" {
		t.Errorf("envelope: %+v", g)
	}
	for _, want := range []string{"Subject: =?utf-8?q?Maintenance_=E2=80=94_Sunday_02:00?=", "To: team@example.com, Oncall <oncall@example.com>",
		"The API will be down.\r\nBack by 03:00.", "Content-Type: text/plain; charset=utf-8"} {
		if !strings.Contains(g.Data, want) {
			t.Errorf("data lacks %q:\n%s", want, g.Data)
		}
	}
	if strings.Contains(g.Data, canary) {
		t.Error("password in the message")
	}
}

func TestSendRefusesBadMessages(t *testing.T) {
	for _, m := range []Message{
		{From: "nobody", To: []string{"a@example.com"}},
		{From: "a@example.com"},
		{From: "a@example.com", To: []string{"b@example.com"}, Subject: "x\r\nBcc: evil@example.com"},
		{From: "a@example.com", To: []string{"not an address"}},
	} {
		if err := Send(t.Context(), Settings{Host: "127.0.0.1", Port: 1}, m); err == nil {
			t.Errorf("accepted %+v", m)
		}
	}
}
