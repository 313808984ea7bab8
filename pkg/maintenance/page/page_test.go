package page

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
)

var t0 = time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC)

// fixture is an application behind the page, served over real HTTP, with a
// switch the test flips.
type fixture struct {
	page  *Page
	state atomic.Pointer[provider.MaintenanceState]
	srv   *httptest.Server
}

func newFixture(t *testing.T, tmpl string, listen string) *fixture {
	t.Helper()
	p, err := New(tmpl, []string{"/health", "/health/readiness"})
	if err != nil {
		t.Fatal(err)
	}
	p.Now = func() time.Time { return t0 }
	f := &fixture{page: p}
	f.state.Store(&provider.MaintenanceState{})
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "app:"+r.URL.Path) })
	f.srv = httptest.NewUnstartedServer(p.Wrap(func() provider.MaintenanceState { return *f.state.Load() }, app))
	if listen != "" {
		l, err := net.Listen("tcp", listen)
		if err != nil {
			t.Skipf("cannot listen on %s here: %v", listen, err) // IPv6 loopback missing: not a failure of the page
		}
		f.srv.Listener.Close()
		f.srv.Listener = l
	}
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) set(st provider.MaintenanceState) { f.state.Store(&st) }

type result struct {
	code   int
	header http.Header
	body   string
}

func (f *fixture) get(t *testing.T, path string, hdr ...string) result {
	t.Helper()
	req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{resp.StatusCode, resp.Header, string(b)}
}

func TestOffPassesThrough(t *testing.T) {
	f := newFixture(t, "", "")
	if r := f.get(t, "/orders"); r.code != 200 || r.body != "app:/orders" {
		t.Fatalf("off: %d %q", r.code, r.body)
	}
}

func TestOnServesThePage(t *testing.T) {
	f := newFixture(t, "", "")
	f.set(provider.MaintenanceState{On: true, Message: "Upgrading the database", Since: t0.Add(-time.Minute), Until: t0.Add(30 * time.Minute)})
	r := f.get(t, "/orders")
	if r.code != 503 {
		t.Fatalf("code %d", r.code)
	}
	for k, want := range map[string]string{"Retry-After": "1800", "Cache-Control": "no-store", "Content-Type": "text/html; charset=utf-8"} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	for _, want := range []string{"Upgrading the database", "Wed, 25 Nov 2026 21:30 UTC", `datetime="2026-11-25T21:30:00Z"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("page lacks %q:\n%s", want, r.body)
		}
	}
}

func TestMessageIsEscaped(t *testing.T) {
	f := newFixture(t, "", "")
	evil := `<script>alert("x")</script><img src=x onerror=alert(1)>`
	f.set(provider.MaintenanceState{On: true, Message: evil})
	r := f.get(t, "/")
	if strings.Contains(r.body, "<script>alert") || strings.Contains(r.body, "<img src=x") {
		t.Fatalf("message not escaped:\n%s", r.body)
	}
	if !strings.Contains(r.body, "&lt;script&gt;") {
		t.Fatalf("escaped message missing:\n%s", r.body)
	}
	r = f.get(t, "/", "Accept", "application/json")
	var got jsonResponse
	if err := json.Unmarshal([]byte(r.body), &got); err != nil || got.Message != evil {
		t.Fatalf("JSON message = %q (%v)", got.Message, err)
	}
	if strings.Contains(r.body, "<script>") {
		t.Fatalf("JSON body carries raw markup: %s", r.body)
	}
}

func TestRetryAfter(t *testing.T) {
	f := newFixture(t, "", "")
	for _, tc := range []struct {
		until time.Time
		want  string
	}{
		{time.Time{}, "300"},
		{t0.Add(90*time.Second + 500*time.Millisecond), "91"},
		{t0.Add(200 * time.Millisecond), "1"},
		{t0.Add(2 * time.Hour), "7200"},
	} {
		f.set(provider.MaintenanceState{On: true, Until: tc.until})
		if got := f.get(t, "/").header.Get("Retry-After"); got != tc.want {
			t.Errorf("until %v: Retry-After %q, want %q", tc.until, got, tc.want)
		}
	}
	f.page.RetryAfter = 10 * time.Minute
	f.set(provider.MaintenanceState{On: true})
	if got := f.get(t, "/").header.Get("Retry-After"); got != "600" {
		t.Errorf("configured open-ended Retry-After %q", got)
	}
}

func TestExpiredPassesThrough(t *testing.T) {
	f := newFixture(t, "", "")
	f.set(provider.MaintenanceState{On: true, Until: t0})
	if r := f.get(t, "/x"); r.code != 200 {
		t.Fatalf("at Until: %d", r.code)
	}
	f.set(provider.MaintenanceState{On: true, Until: t0.Add(-time.Hour)})
	if r := f.get(t, "/x"); r.code != 200 {
		t.Fatalf("after Until: %d", r.code)
	}
}

func TestHealthPathsPassThrough(t *testing.T) {
	f := newFixture(t, "", "")
	f.set(provider.MaintenanceState{On: true})
	for _, p := range []string{"/health", "/health/readiness"} {
		if r := f.get(t, p); r.code != 200 || r.body != "app:"+p {
			t.Errorf("%s: %d %q", p, r.code, r.body)
		}
	}
	if r := f.get(t, "/healthz"); r.code != 503 {
		t.Errorf("/healthz is not a health path: %d", r.code)
	}
}

func TestJSONNegotiation(t *testing.T) {
	f := newFixture(t, "", "")
	f.set(provider.MaintenanceState{On: true, Message: "back soon", Since: t0, Until: t0.Add(time.Hour)})
	r := f.get(t, "/api/orders", "Accept", "application/json")
	if r.code != 503 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %q", r.code, r.header.Get("Content-Type"))
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"error": "maintenance", "message": "back soon", "until": "2026-11-25T22:00:00Z", "since": "2026-11-25T21:00:00Z", "retry_after": 3600.0}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	for accept, wantJSON := range map[string]bool{
		"":    false,
		"*/*": false,
		"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8": false,
		"application/json":                  true,
		"application/json, text/plain, */*": true,
		"application/problem+json":          true,
		"text/html;q=0.5, application/json": true,
		"text/html, application/json;q=0.9": false,
		"application/json;q=0":              false,
		"garbage;;;, application/json":      true,
	} {
		if got := wantsJSON([]string{accept}); got != wantJSON {
			t.Errorf("Accept %q: JSON %v, want %v", accept, got, wantJSON)
		}
	}
}

func TestHEADHasNoBody(t *testing.T) {
	f := newFixture(t, "", "")
	f.set(provider.MaintenanceState{On: true})
	resp, err := http.Head(f.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "300" {
		t.Fatalf("HEAD: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestAllowListOverRealHTTP(t *testing.T) {
	for _, tc := range []struct{ listen, allow, deny string }{
		{"127.0.0.1:0", "127.0.0.0/8", "10.0.0.0/8"},
		{"[::1]:0", "::1/128", "2001:db8::/32"},
	} {
		t.Run(tc.listen, func(t *testing.T) {
			f := newFixture(t, "", tc.listen)
			f.set(provider.MaintenanceState{On: true, Allow: []string{tc.deny}})
			if r := f.get(t, "/"); r.code != 503 {
				t.Fatalf("not allow-listed: %d", r.code)
			}
			f.set(provider.MaintenanceState{On: true, Allow: []string{tc.deny, tc.allow}})
			if r := f.get(t, "/"); r.code != 200 {
				t.Fatalf("allow-listed: %d", r.code)
			}
		})
	}
}

func TestAllowListAddresses(t *testing.T) {
	p, _ := New("", nil)
	allow := []string{"10.0.0.0/8", "2001:db8::/32", "192.0.2.7"}
	for remote, want := range map[string]bool{
		"10.1.2.3:5000":       true,
		"11.1.2.3:5000":       false,
		"[::ffff:10.9.9.9]:1": true, // IPv4-mapped IPv6 peer
		"[2001:db8::1]:443":   true,
		"[2001:db9::1]:443":   false,
		"192.0.2.7:1":         true,
		"192.0.2.8:1":         false,
		"[fe80::1%eth0]:1":    false,
		"not-an-address":      false,
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		if got := p.allowed(allow, r); got != want {
			t.Errorf("%s: allowed %v, want %v", remote, got, want)
		}
	}
}

func TestForwardedForOnlyFromTrustedProxies(t *testing.T) {
	p, _ := New("", nil)
	allow := []string{"203.0.113.0/24"}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:4000"
	r.Header.Set("X-Forwarded-For", "203.0.113.5")
	if p.allowed(allow, r) {
		t.Fatal("X-Forwarded-For believed from an untrusted peer")
	}
	p.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	if !p.allowed(allow, r) {
		t.Fatal("X-Forwarded-For ignored from a trusted proxy")
	}
	r.Header.Set("X-Forwarded-For", "203.0.113.5, 198.51.100.9") // the nearest hop is the client
	if p.allowed(allow, r) {
		t.Fatal("a spoofed leftmost hop passed")
	}
}

func TestParseAllow(t *testing.T) {
	got, err := ParseAllow([]string{"10.1.2.3/8", " ::1 ", "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].String() != "10.0.0.0/8" || got[1].String() != "::1/128" || got[2].String() != "192.0.2.1/32" {
		t.Fatalf("%v", got)
	}
	for _, bad := range []string{"10.0.0.0/33", "banana", "", "10.0.0/8"} {
		if _, err := ParseAllow([]string{bad}); err == nil || !strings.Contains(err.Error(), "CIDR") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestCustomTemplate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "maintenance.html")
	os.WriteFile(good, []byte(`<h1>{{.Message}}</h1><p>until {{.Until}} since {{.Since}}</p>`), 0o644)
	f := newFixture(t, good, "")
	f.set(provider.MaintenanceState{On: true, Message: "<b>db</b>", Since: t0})
	r := f.get(t, "/")
	if r.body != "<h1>&lt;b&gt;db&lt;/b&gt;</h1><p>until  since 2026-11-25T21:00:00Z</p>" {
		t.Fatalf("page %q", r.body)
	}
	for name, text := range map[string]string{"syntax.html": "{{.Message", "field.html": "{{.Nope}}"} {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(text), 0o644)
		if _, err := New(path, nil); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if _, err := New(filepath.Join(dir, "missing.html"), nil); err == nil {
		t.Error("missing template accepted")
	}
}
