// Package page serves the maintenance page in front of an application: 503
// with Retry-After and Cache-Control: no-store, an HTML page or a JSON body
// as the client asks, while health paths and allow-listed clients pass
// through. A data plane (the local proxy, a maintenance backend) wraps its
// handler with Page.Wrap and reads the switch on every request.
package page

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	deployctl "github.com/deployctl/deployctl"
	"github.com/deployctl/deployctl/pkg/provider"
)

// DefaultTemplate is the page used when no template file is configured:
// the repository's templates/maintenance.html, the same file `deployctl
// init` writes, embedded once in the binary.
var DefaultTemplate = mustAsset("templates/maintenance.html")

func mustAsset(name string) string {
	b, err := deployctl.Assets.ReadFile(name)
	if err != nil {
		panic("maintenance page: embedded " + name + " missing: " + err.Error())
	}
	return string(b)
}

// DefaultRetryAfter is announced when maintenance has no end time.
const DefaultRetryAfter = 5 * time.Minute

// Data is what a page template sees. Times are strings, empty when unset.
type Data struct {
	Message    string // plain text; html/template escapes it
	Until      string // for people: "Wed, 25 Nov 2026 22:00 UTC"; empty when open-ended
	UntilISO   string // RFC 3339, for <time datetime>
	Since      string // RFC 3339
	RetryAfter int    // seconds
}

// Page renders maintenance responses.
type Page struct {
	// Now is the clock; tests fix it.
	Now func() time.Time
	// RetryAfter is announced when maintenance is open-ended.
	RetryAfter time.Duration
	// TrustedProxies are the peers whose X-Forwarded-For is believed for
	// the allow-list. Empty (the default): only the peer address counts, so
	// a client cannot forge its way past the page.
	TrustedProxies []netip.Prefix

	tmpl   *template.Template
	health map[string]bool
}

// New parses the html/template at tmplPath (the embedded default when
// empty). Requests to healthPaths always reach the application.
func New(tmplPath string, healthPaths []string) (*Page, error) {
	var (
		t   *template.Template
		err error
	)
	if tmplPath == "" {
		t, err = template.New("maintenance").Parse(DefaultTemplate)
	} else {
		t, err = template.ParseFiles(tmplPath)
	}
	if err != nil {
		return nil, fmt.Errorf("maintenance page template: %w", err)
	}
	// Render once now, so a template naming an unknown field fails at
	// start-up rather than on the first visitor.
	sample := Data{Message: "m", Until: "u", UntilISO: "u", Since: "s", RetryAfter: 1}
	if err := t.Execute(&bytes.Buffer{}, sample); err != nil {
		return nil, fmt.Errorf("maintenance page template %s: %w (fields: .Message .Until .UntilISO .Since .RetryAfter)", tmplPath, err)
	}
	p := &Page{Now: time.Now, RetryAfter: DefaultRetryAfter, tmpl: t, health: map[string]bool{}}
	for _, h := range healthPaths {
		p.health[h] = true
	}
	return p, nil
}

// Active reports whether st blocks traffic at now: on and not yet expired.
func Active(st provider.MaintenanceState, now time.Time) bool {
	return st.On && (st.Until.IsZero() || now.Before(st.Until))
}

// Wrap serves the page instead of next while current() is active.
func (p *Page) Wrap(current func() provider.MaintenanceState, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := current()
		if !Active(st, p.Now()) || p.health[r.URL.Path] || p.allowed(st.Allow, r) {
			next.ServeHTTP(w, r)
			return
		}
		p.serve(w, r, st)
	})
}

// retryAfter is whole seconds until the end, at least 1.
func (p *Page) retryAfter(st provider.MaintenanceState) int {
	if st.Until.IsZero() {
		return int(p.RetryAfter / time.Second)
	}
	return max(1, int(math.Ceil(st.Until.Sub(p.Now()).Seconds())))
}

func (p *Page) data(st provider.MaintenanceState) Data {
	d := Data{Message: st.Message, RetryAfter: p.retryAfter(st)}
	if !st.Until.IsZero() {
		d.Until = st.Until.UTC().Format("Mon, 02 Jan 2006 15:04 MST")
		d.UntilISO = st.Until.UTC().Format(time.RFC3339)
	}
	if !st.Since.IsZero() {
		d.Since = st.Since.UTC().Format(time.RFC3339)
	}
	return d
}

func (p *Page) serve(w http.ResponseWriter, r *http.Request, st provider.MaintenanceState) {
	d := p.data(st)
	h := w.Header()
	h.Set("Retry-After", strconv.Itoa(d.RetryAfter))
	h.Set("Cache-Control", "no-store")
	var body []byte
	if wantsJSON(r.Header.Values("Accept")) {
		h.Set("Content-Type", "application/json")
		body = jsonBody(d)
	} else {
		h.Set("Content-Type", "text/html; charset=utf-8")
		body = p.html(d)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusServiceUnavailable)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

func (p *Page) html(d Data) []byte {
	var b bytes.Buffer
	if err := p.tmpl.Execute(&b, d); err != nil {
		// The template passed a trial render in New; keep serving 503
		// with an escaped plain message rather than a broken page.
		b.Reset()
		b.WriteString("<!doctype html><title>Down for maintenance</title><p>" + template.HTMLEscapeString(d.Message) + "</p>\n")
	}
	return b.Bytes()
}
