// Package mail talks SMTP for deployctl: Probe proves that the configured
// server accepts a connection, TLS and the login (env validate --connect),
// and Send delivers a plain-text message (maintenance announcements).
package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"strconv"
	"strings"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
)

// DefaultTimeout bounds a whole SMTP exchange when Settings.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Settings say how to reach and log in to an SMTP server.
type Settings struct {
	Host     string
	Port     int // 465 means implicit TLS; any other port uses STARTTLS when offered
	User     string
	Password string
	// RootCAs verifies the server's certificate; nil means the system pool,
	// which honours SSL_CERT_FILE and SSL_CERT_DIR.
	RootCAs *x509.CertPool
	Timeout time.Duration
}

func (s Settings) addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// what names the server in errors; it never includes the password.
func (s Settings) what() string { return "SMTP server " + s.addr() }

// Probe connects, says EHLO, upgrades with STARTTLS when the server offers
// it, logs in when a user is set, and says QUIT. A server that cannot be
// reached is a *provider.UnreachableError; a refused login is a plain error
// naming the user, never the password.
func Probe(ctx context.Context, s Settings) error {
	sess, err := open(ctx, s)
	if err != nil {
		return err
	}
	defer sess.close()
	return sess.quit()
}

// session is one open, greeted, secured and authenticated connection.
type session struct {
	s    Settings
	c    *smtp.Client
	stop func() bool
}

func open(ctx context.Context, s Settings) (*session, error) {
	if s.Host == "" || s.Port <= 0 || s.Port > 65535 {
		return nil, fmt.Errorf("SMTP settings need a host and a port (got %q and %d)", s.Host, s.Port)
	}
	if s.Timeout <= 0 {
		s.Timeout = DefaultTimeout
	}
	conn, err := dial(ctx, s)
	if err != nil {
		return nil, err
	}
	// Cancelling ctx closes the connection, which ends any blocked read.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	sess := &session{s: s, stop: stop}
	if err := sess.start(ctx, conn); err != nil {
		stop()
		conn.Close()
		return nil, err
	}
	return sess, nil
}

func dial(ctx context.Context, s Settings) (net.Conn, error) {
	d := &net.Dialer{Timeout: s.Timeout}
	conn, err := d.DialContext(ctx, "tcp", s.addr())
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, provider.Unreachable(s.what(), err)
	}
	_ = conn.SetDeadline(time.Now().Add(s.Timeout))
	if s.Port == 465 {
		tc := tls.Client(conn, s.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, s.tlsError(err)
		}
		return tc, nil
	}
	return conn, nil
}

func (s Settings) tlsConfig() *tls.Config {
	return &tls.Config{ServerName: s.Host, RootCAs: s.RootCAs, MinVersion: tls.VersionTLS12}
}

func (s Settings) tlsError(err error) error {
	return fmt.Errorf("%s: TLS failed: %v; if the server uses a private CA, point SSL_CERT_FILE at it", s.what(), err)
}

func (sess *session) start(ctx context.Context, conn net.Conn) error {
	s := sess.s
	c, err := smtp.NewClient(conn, s.Host)
	if err != nil {
		return sess.fail(ctx, "greeting", err)
	}
	sess.c = c
	if err := c.Hello("localhost"); err != nil {
		return sess.fail(ctx, "EHLO", err)
	}
	if _, isTLS := conn.(*tls.Conn); !isTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(s.tlsConfig()); err != nil {
				return s.tlsError(err)
			}
		}
	}
	if s.User == "" {
		return nil
	}
	return sess.login(ctx)
}

func (sess *session) login(ctx context.Context) error {
	s, c := sess.s, sess.c
	ok, mechs := c.Extension("AUTH")
	if !ok {
		return fmt.Errorf("%s does not offer AUTH (before or after STARTTLS), but EMAIL_USER is set; unset it or check the port", s.what())
	}
	var a smtp.Auth
	switch {
	case hasWord(mechs, "PLAIN"):
		a = smtp.PlainAuth("", s.User, s.Password, s.Host)
	case hasWord(mechs, "LOGIN"):
		a = &loginAuth{user: s.User, password: s.Password, host: s.Host}
	default:
		return fmt.Errorf("%s offers AUTH %s; deployctl speaks PLAIN and LOGIN", s.what(), mechs)
	}
	if err := c.Auth(a); err != nil {
		if ctx.Err() != nil || isNetError(err) {
			return sess.fail(ctx, "AUTH", err)
		}
		return fmt.Errorf("%s refused the login of user %q: %s; check EMAIL_USER and EMAIL_PASSWORD", s.what(), s.User, scrub(err.Error(), s.Password))
	}
	return nil
}

// fail classifies an error during the exchange: network trouble and
// timeouts mean the server is unreachable (exit 4), the rest are answers.
func (sess *session) fail(ctx context.Context, step string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	msg := scrub(err.Error(), sess.s.Password)
	if isNetError(err) {
		return provider.Unreachable(sess.s.what(), fmt.Errorf("%s: %s", step, msg))
	}
	return fmt.Errorf("%s: %s: %s", sess.s.what(), step, msg)
}

func isNetError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "EOF") ||
		strings.Contains(err.Error(), "connection reset")
}

func (sess *session) quit() error {
	if err := sess.c.Quit(); err != nil && !isNetError(err) {
		return fmt.Errorf("%s: QUIT: %s", sess.s.what(), err)
	}
	return nil
}

func (sess *session) close() {
	sess.stop()
	if sess.c != nil {
		sess.c.Close()
	}
}

func hasWord(list, word string) bool {
	for _, w := range strings.Fields(list) {
		if strings.EqualFold(w, word) {
			return true
		}
	}
	return false
}

// scrub removes the password from a server's message, should it echo it.
func scrub(msg, password string) string {
	if password == "" {
		return msg
	}
	return strings.ReplaceAll(msg, password, "xxxxx")
}

// loginAuth is the LOGIN mechanism, which some providers offer instead of
// PLAIN. Like smtp.PlainAuth it refuses to send the password unencrypted
// except to this machine.
type loginAuth struct{ user, password, host string }

func (a *loginAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS && !isLocal(server.Name) {
		return "", nil, errors.New("unencrypted connection")
	}
	if server.Name != a.host {
		return "", nil, errors.New("wrong host name")
	}
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	if strings.Contains(strings.ToLower(string(fromServer)), "user") {
		return []byte(a.user), nil
	}
	return []byte(a.password), nil
}

func isLocal(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}
