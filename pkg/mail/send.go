package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	netmail "net/mail"
	"strings"
	"time"
)

// Message is a plain-text email.
type Message struct {
	From    string
	To      []string
	Subject string
	Body    string
}

func (m Message) check() error {
	if _, err := netmail.ParseAddress(m.From); err != nil {
		return fmt.Errorf("invalid sender %q: give an address such as ops@example.com", m.From)
	}
	if len(m.To) == 0 {
		return errors.New("no recipients: give at least one address")
	}
	for _, to := range m.To {
		if _, err := netmail.ParseAddress(to); err != nil {
			return fmt.Errorf("invalid recipient %q: give an address such as team@example.com", to)
		}
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return errors.New("the subject must be one line")
	}
	return nil
}

// Send delivers m through the server of s: the same connection, TLS and
// login as Probe, then MAIL, RCPT for each recipient, DATA and QUIT.
func Send(ctx context.Context, s Settings, m Message) error {
	if err := m.check(); err != nil {
		return err
	}
	sess, err := open(ctx, s)
	if err != nil {
		return err
	}
	defer sess.close()
	if err := sess.deliver(ctx, m); err != nil {
		return err
	}
	return sess.quit()
}

func (sess *session) deliver(ctx context.Context, m Message) error {
	c := sess.c
	from, _ := netmail.ParseAddress(m.From)
	if err := c.Mail(from.Address); err != nil {
		return sess.fail(ctx, "MAIL FROM", err)
	}
	for _, to := range m.To {
		a, _ := netmail.ParseAddress(to)
		if err := c.Rcpt(a.Address); err != nil {
			return sess.fail(ctx, "RCPT TO "+a.Address, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return sess.fail(ctx, "DATA", err)
	}
	if err := m.write(w, time.Now()); err != nil {
		return sess.fail(ctx, "DATA", err)
	}
	if err := w.Close(); err != nil {
		return sess.fail(ctx, "DATA", err)
	}
	return nil
}

// write renders the message: headers (the subject encoded when it is not
// ASCII) and a quoted-printable UTF-8 body with CRLF line ends.
func (m Message) write(w io.Writer, now time.Time) error {
	var b strings.Builder
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	_, domain, _ := strings.Cut(m.From, "@")
	domain = strings.TrimSuffix(domain, ">")
	headers := [][2]string{
		{"From", m.From},
		{"To", strings.Join(m.To, ", ")},
		{"Subject", mime.QEncoding.Encode("utf-8", m.Subject)},
		{"Date", now.Format(time.RFC1123Z)},
		{"Message-ID", "<" + hex.EncodeToString(id) + "@" + domain + ">"},
		{"MIME-Version", "1.0"},
		{"Content-Type", "text/plain; charset=utf-8"},
		{"Content-Transfer-Encoding", "quoted-printable"},
	}
	for _, h := range headers {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	body := strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n")
	if _, err := qp.Write([]byte(body)); err != nil {
		return err
	}
	if err := qp.Close(); err != nil {
		return err
	}
	_, err := io.WriteString(w, b.String())
	return err
}
