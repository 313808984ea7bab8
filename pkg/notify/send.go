package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// DefaultTimeout bounds the delivery to one target, its retry included.
const DefaultTimeout = 5 * time.Second

// SignatureHeader carries "sha256=<hex HMAC-SHA256 of the body>" on signed
// webhook requests.
const SignatureHeader = "X-Deployctl-Signature"

// Mailer sends one plain-text email (the SMTP settings of the environment).
type Mailer func(ctx context.Context, from string, to []string, subject, body string) error

// Options build a Notifier.
type Options struct {
	Targets []Target
	Env     string        // fills Event.Env when empty
	Timeout time.Duration // per target; 0: DefaultTimeout
	// Resolve returns the value of a variable named by url_from or
	// secret_from; nil: such targets fail.
	Resolve func(ctx context.Context, name string) (string, error)
	Mail    Mailer       // email targets; nil: they fail
	Client  *http.Client // nil: a client without redirects
	Now     func() time.Time
	// Warnf reports a failed delivery (target, status or error) to people.
	Warnf func(format string, a ...any)
}

type notifier struct{ o Options }

// New returns a Notifier for the targets of o; without targets it is Nop.
func New(o Options) Notifier {
	if len(o.Targets) == 0 {
		return Nop()
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Client == nil {
		o.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &notifier{o: o}
}

// Notify sends e to every target that wants it, concurrently, and waits for
// all of them (each bounded by the timeout).
func (n *notifier) Notify(ctx context.Context, e Event) []Delivery {
	if e.Time.IsZero() {
		e.Time = n.o.Now()
	}
	e.Time = e.Time.UTC()
	if e.Env == "" {
		e.Env = n.o.Env
	}
	var ts []Target
	for _, t := range n.o.Targets {
		if t.Wants(e.Kind) {
			ts = append(ts, t)
		}
	}
	out := make([]Delivery, len(ts))
	var wg sync.WaitGroup
	for i, t := range ts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = n.deliver(ctx, t, e)
		}()
	}
	wg.Wait()
	for _, d := range out {
		if !d.OK && n.o.Warnf != nil {
			n.o.Warnf("notification %s to %s was not delivered: %s", d.Kind, d.Target, d.Err)
		}
	}
	return out
}

// deliver sends to one target; it never panics.
func (n *notifier) deliver(ctx context.Context, t Target, e Event) (d Delivery) {
	start := n.o.Now()
	d = Delivery{Target: t.Name, Kind: e.Kind}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), n.o.Timeout)
	defer cancel()
	var secrets []string
	defer func() {
		if r := recover(); r != nil {
			d.OK, d.Err = false, fmt.Sprintf("internal error: %v", r)
		}
		d.Err = scrub(d.Err, secrets)
		d.Duration = n.o.Now().Sub(start)
	}()
	var err error
	switch t.Type {
	case TypeEmail:
		err = n.email(ctx, t, e)
	case TypeWebhook, TypeSlack:
		d.Status, secrets, err = n.post(ctx, t, e)
	default:
		err = fmt.Errorf("unknown target type %q", t.Type)
	}
	if err != nil {
		d.Err = err.Error()
		return d
	}
	d.OK = true
	return d
}

// post resolves the URL and secret, builds the body and POSTs it, once more
// after a 5xx answer or a network error while time remains.
func (n *notifier) post(ctx context.Context, t Target, e Event) (int, []string, error) {
	u, secret, err := n.resolveURL(ctx, t)
	secrets := []string{u, secret}
	if err != nil {
		return 0, secrets, err
	}
	if p, perr := url.Parse(u); perr == nil {
		secrets = append(secrets, p.RawQuery, p.Path, p.User.String())
	}
	body, err := payload(t.Type, e)
	if err != nil {
		return 0, secrets, err
	}
	var status int
	for attempt := 0; attempt < 2; attempt++ {
		status, err = n.postOnce(ctx, u, secret, e.Kind, body)
		if !retryable(status, err) || ctx.Err() != nil {
			break
		}
	}
	return status, secrets, err
}

func (n *notifier) resolveURL(ctx context.Context, t Target) (u, secret string, err error) {
	u = t.URL
	if t.URLFrom != "" {
		if u, err = n.resolve(ctx, t.URLFrom); err != nil {
			return "", "", err
		}
	}
	if t.SecretFrom != "" {
		if secret, err = n.resolve(ctx, t.SecretFrom); err != nil {
			return u, "", err
		}
	}
	return u, secret, nil
}

func (n *notifier) resolve(ctx context.Context, name string) (string, error) {
	if n.o.Resolve == nil {
		return "", fmt.Errorf("variable %s cannot be read here", name)
	}
	v, err := n.o.Resolve(ctx, name)
	if err != nil {
		return "", fmt.Errorf("variable %s: %v", name, err)
	}
	if v == "" {
		return "", fmt.Errorf("variable %s is not set in the environment's variables: set it or fix the target", name)
	}
	return v, nil
}

func (n *notifier) postOnce(ctx context.Context, u, secret string, kind Kind, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("invalid URL %s", RedactURL(u))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "deployctl")
	req.Header.Set("X-Deployctl-Event", string(kind))
	if secret != "" {
		req.Header.Set(SignatureHeader, Sign(secret, body))
	}
	resp, err := n.o.Client.Do(req)
	if err != nil {
		return 0, netError(u, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("%s answered HTTP %d", RedactURL(u), resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// netError says what went wrong without the URL's path and query, which
// *url.Error would print.
func netError(u string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s did not answer in time", RedactURL(u))
	}
	return fmt.Errorf("%s: %v", RedactURL(u), err)
}

func retryable(status int, err error) bool {
	if err == nil {
		return false
	}
	return status == 0 || status >= 500
}

// Sign is the signature header value of body: sha256=<hex HMAC-SHA256>.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func payload(typ string, e Event) ([]byte, error) {
	if typ == TypeSlack {
		return json.Marshal(map[string]string{"text": Text(e)})
	}
	return json.Marshal(e)
}

// Text is the event as one short message: the first line, then the fields.
func Text(e Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] %s: %s", e.Env, e.Kind, e.Summary)
	for _, k := range sortedKeys(e.Fields) {
		fmt.Fprintf(&b, "\n%s: %s", k, e.Fields[k])
	}
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func (n *notifier) email(ctx context.Context, t Target, e Event) error {
	if n.o.Mail == nil {
		return errors.New("email is not set up: set EMAIL_HOST (and EMAIL_PORT, EMAIL_USER, EMAIL_PASSWORD) in the environment's variables")
	}
	subject := fmt.Sprintf("[deployctl] %s: %s: %s", e.Env, e.Kind, oneLine(e.Summary))
	var b strings.Builder
	b.WriteString(e.Summary + "\n\n")
	fmt.Fprintf(&b, "Environment: %s\nEvent:       %s\nTime:        %s\n", e.Env, e.Kind, e.Time.Format(time.RFC3339))
	if e.Actor != "" {
		fmt.Fprintf(&b, "Actor:       %s\n", e.Actor)
	}
	for _, k := range sortedKeys(e.Fields) {
		fmt.Fprintf(&b, "%s: %s\n", k, e.Fields[k])
	}
	return n.o.Mail(ctx, t.From, t.To, subject, b.String())
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}

// scrub removes the resolved URL, its parts and the secret from a message.
func scrub(msg string, secrets []string) string {
	for _, s := range secrets {
		if len(s) >= 4 && s != "/" {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	return msg
}
