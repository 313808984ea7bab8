package proxy

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestDirectTransportRetriesClosedIdleConnection(t *testing.T) {
	e := newEnv(t)
	e.blue.Close()
	// a slot that answers one request per connection and then closes it
	// without saying so, as one whose keep-alive timeout is short does: the
	// proxy's pooled connection is dead when it reuses it
	answers := make([]string, 20)
	for i := range answers {
		answers[i] = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nblue<close>"
	}
	slot, _ := scriptedSlot(t, answers...)
	p := e.start(t, func(s *Server) { s.Slots["blue"] = mustURL(slot) })
	for i := range 20 {
		if code, body := get(t, http.DefaultClient, p.url+"/"); code != 200 || body != "blue" {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
	}
}

func TestDirectTransportForwardsBodies(t *testing.T) {
	e := newEnv(t)
	e.blue.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %d", r.Method, strings.ToUpper(string(b)), r.ContentLength)
	})
	p := e.start(t)
	for _, size := range []int{5, 200_000} {
		body := strings.Repeat("x", size)
		resp, err := http.Post(p.url+"/echo", "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := fmt.Sprintf("POST %s %d", strings.Repeat("X", size), size); string(got) != want {
			t.Fatalf("echo of %d bytes: %.40q…", size, got)
		}
	}
	req, _ := http.NewRequest("HEAD", p.url+"/", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("HEAD: %v", err)
	}
}

func TestHostPort(t *testing.T) {
	for in, want := range map[string]string{"http://a:81": "a:81", "http://a": "a:80", "http://[::1]": "[::1]:80"} {
		if got := hostPort(mustURL(in)); got != want {
			t.Errorf("hostPort(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestDirectTransportDropsConnectionWithMoreThanTheAnswer: a slot that sends
// more than its Content-Length is out of step; what follows must never be
// read as the answer to the next request (a smuggled response).
func TestDirectTransportDropsConnectionWithMoreThanTheAnswer(t *testing.T) {
	e := newEnv(t)
	slot, _ := scriptedSlot(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfake",
		"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext")
	p := e.start(t, func(s *Server) { s.Slots["blue"] = mustURL(slot); s.StandardPath = true })
	for _, want := range []string{"ok", "next"} {
		if code, body := get(t, http.DefaultClient, p.url+"/"); code != 200 || body != want {
			t.Fatalf("got %d %q, want %q", code, body, want)
		}
	}
}
