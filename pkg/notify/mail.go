package notify

import (
	"context"
	"strings"

	"github.com/deployctl/deployctl/pkg/mail"
)

// SMTPMailer sends through the SMTP server of s; from is the sender used
// when a target names none. Errors never contain the password.
func SMTPMailer(s mail.Settings, from string) Mailer {
	return func(ctx context.Context, sender string, to []string, subject, body string) error {
		if sender == "" {
			sender = from
		}
		err := mail.Send(ctx, s, mail.Message{From: sender, To: to, Subject: subject, Body: body})
		if err != nil && s.Password != "" {
			return &scrubbedError{msg: strings.ReplaceAll(err.Error(), s.Password, "xxxxx"), err: err}
		}
		return err
	}
}

type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }
