package app

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/deployctl/deployctl/pkg/mail"
	"github.com/deployctl/deployctl/pkg/notify"
	"github.com/deployctl/deployctl/pkg/provider"
)

// Notifier sends events to the environment's notify: targets; without
// targets (or without a configuration to read them from) it is notify.Nop.
// Variables named by url_from and secret_from, and the SMTP settings of
// email targets, are read when the first event is sent; a failed delivery
// is a warning on stderr, never an error of the command.
func (f *Factory) Notifier() notify.Notifier {
	cfg, err := f.Config()
	if err != nil {
		return notify.Nop()
	}
	ts := cfg.NotifyTargets()
	if len(ts) == 0 {
		return notify.Nop()
	}
	vars := f.lazyVariables()
	return notify.New(notify.Options{
		Targets: ts, Env: cfg.Env, Timeout: cfg.Notify.Timeout, Now: f.Now,
		Warnf: f.IO.Warnf,
		Resolve: func(ctx context.Context, name string) (string, error) {
			vs, err := vars(ctx)
			if err != nil {
				return "", err
			}
			return vs[name].Value, nil
		},
		Mail: func(ctx context.Context, from string, to []string, subject, body string) error {
			vs, err := vars(ctx)
			if err != nil {
				return err
			}
			s, err := SMTPSettings(cfg.Env, vs)
			if err != nil {
				return err
			}
			return notify.SMTPMailer(s, cfg.Maintenance.Notify.From)(ctx, from, to, subject, body)
		},
	})
}

// lazyVariables loads the variables once, on first use, for concurrent
// deliveries.
func (f *Factory) lazyVariables() func(context.Context) (map[string]provider.Variable, error) {
	var (
		mu   sync.Mutex
		done bool
		vs   map[string]provider.Variable
		err  error
	)
	return func(ctx context.Context) (map[string]provider.Variable, error) {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			vs, err = f.Variables(ctx)
			done = err == nil
		}
		return vs, err
	}
}

// SMTPSettings are the SMTP server of the environment's EMAIL_HOST,
// EMAIL_PORT (587 unless set), EMAIL_USER and EMAIL_PASSWORD variables.
// Missing or bad values are configuration errors (exit 2).
func SMTPSettings(env string, vars map[string]provider.Variable) (mail.Settings, error) {
	s := mail.Settings{Host: vars["EMAIL_HOST"].Value, Port: 587, User: vars["EMAIL_USER"].Value, Password: vars["EMAIL_PASSWORD"].Value, Timeout: 30 * time.Second}
	if s.Host == "" {
		return s, Usagef("EMAIL_HOST is not set in the variables of %s: email needs an SMTP server", env)
	}
	if p := vars["EMAIL_PORT"].Value; p != "" {
		port, err := strconv.Atoi(p)
		if err != nil || port < 1 || port > 65535 {
			return s, Usagef("EMAIL_PORT %q is not a port number", p)
		}
		s.Port = port
	}
	return s, nil
}
