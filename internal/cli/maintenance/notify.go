package maintenance

import (
	"context"
	"strings"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/pkg/mail"
	"github.com/deployctl/deployctl/pkg/maintenance"
)

// wireNotify sends announcements to maintenance.notify.to through the
// environment's EMAIL_* variables. Without recipients nothing is wired and
// windows are recorded unannounced.
func wireNotify(ctx context.Context, f *app.Factory, e *maintenance.Engine) error {
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	n := cfg.Maintenance.Notify
	if len(n.To) == 0 {
		return nil
	}
	if n.From == "" {
		return app.Usagef("%s: maintenance.notify.from is empty: set the sender of the announcements", cfg.File)
	}
	vars, err := f.Variables(ctx)
	if err != nil {
		return err
	}
	if vars["EMAIL_HOST"].Value == "" {
		return app.Usagef("EMAIL_HOST is not set in the variables of %s: announcements need an SMTP server (or empty maintenance.notify.to)", cfg.Env)
	}
	s, err := app.SMTPSettings(cfg.Env, vars)
	if err != nil {
		return err
	}
	e.NotifyTo = n.To
	e.Notify = func(ctx context.Context, subject, body string) error {
		err := mail.Send(ctx, s, mail.Message{From: n.From, To: n.To, Subject: subject, Body: body})
		if err != nil {
			return &scrubbed{err: err, secret: s.Password}
		}
		return nil
	}
	return nil
}

// scrubbed keeps the password out of a mail error's message while errors.As
// still finds its type (an unreachable server exits 4).
type scrubbed struct {
	err    error
	secret string
}

func (s *scrubbed) Error() string {
	if s.secret == "" {
		return s.err.Error()
	}
	return strings.ReplaceAll(s.err.Error(), s.secret, "xxxxx")
}

func (s *scrubbed) Unwrap() error { return s.err }
