package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// A slot's answer is relayed no more leniently than net/http reads it
// (finding 5): control bytes in the status line, a field name or value, a
// chunk line or a trailer, or a head over maxAnswerHead, never reach the
// client. A bad head is a 502; a bad chunk line or trailer, which comes
// after the head was sent, cuts the client's connection. Either way the
// slot's connection is closed, never reused.
func TestAnswersRelayedStrictly(t *testing.T) {
	bigHead := func(n int) string {
		var b strings.Builder
		b.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n")
		for i := range n {
			b.WriteString("X-Pad-" + strings.Repeat("p", 3) + string(rune('a'+i%26)) + ": " + strings.Repeat("v", 1000) + "\r\n")
		}
		return b.String() + "\r\nok"
	}
	for _, tc := range []struct {
		name, answer, marker string
		head                 bool // a bad head: 502 for sure
	}{
		{name: "bare CR in a value", answer: "HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 2\r\n\r\nok", marker: "a\rb", head: true},
		{name: "NUL in a value", answer: "HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 2\r\n\r\nok", marker: "a\x00b", head: true},
		{name: "DEL in a value", answer: "HTTP/1.1 200 OK\r\nX-A: a\x7fb\r\nContent-Length: 2\r\n\r\nok", marker: "a\x7fb", head: true},
		{name: "control byte in a name", answer: "HTTP/1.1 200 OK\r\nX-\x01A: b\r\nContent-Length: 2\r\n\r\nok", marker: "X-\x01A", head: true},
		{name: "control byte in the reason", answer: "HTTP/1.1 200 O\x01K\r\nContent-Length: 2\r\n\r\nok", marker: "O\x01K"},
		{name: "head over the limit", answer: bigHead(100), marker: "X-Pad", head: true},
		{name: "control byte in a chunk extension", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;e=a\x01b\r\nok\r\n0\r\n\r\n", marker: "a\x01b"},
		{name: "control byte in a trailer", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: a\x01b\r\n\r\n", marker: "a\x01b"},
		{name: "trailer without a colon", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nnocolon\r\n\r\n", marker: "nocolon"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eachPath(t, func(t *testing.T, setup func(*Server)) {
				e := newEnv(t)
				slot, _, conns := countedSlot(t, tc.answer, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext")
				p := e.start(t, func(s *Server) { s.Slots["blue"] = mustURL(slot); setup(s) })
				c := dialRaw(t, p.url)
				c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
				var raw bytes.Buffer
				resp, err := http.ReadResponse(bufio.NewReader(io.TeeReader(c.br, &raw)), &http.Request{Method: "GET"})
				whole := err == nil
				if whole {
					_, err = io.ReadAll(resp.Body)
					whole = err == nil
				}
				if bytes.Contains(raw.Bytes(), []byte(tc.marker)) {
					t.Fatalf("the client got %q from the slot's malformed answer:\n%.300q", tc.marker, raw.String())
				}
				if tc.head && (resp == nil || resp.StatusCode != http.StatusBadGateway) {
					t.Fatalf("a malformed answer head gave the client %v, want 502", resp)
				}
				refused := !whole || resp.StatusCode == http.StatusBadGateway
				if !whole || resp.Close {
					c = dialRaw(t, p.url)
				}
				c.send("GET /next HTTP/1.1\r\nHost: h\r\n\r\n")
				if resp, body := c.read("GET"); resp.StatusCode != 200 || body != "next" {
					t.Fatalf("next request: %d %q", resp.StatusCode, body)
				}
				if n := conns(); refused && n != 2 {
					t.Fatalf("the slot saw %d connections: the one with the malformed answer was reused", n)
				}
			})
		})
	}
}

// A long head that stays within maxAnswerHead passes on every path.
func TestLongAnswerHeadWithinTheLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n")
	for i := range 50 {
		b.WriteString("X-Pad-" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ": " + strings.Repeat("v", 1000) + "\r\n")
	}
	b.WriteString("\r\nok")
	eachPath(t, func(t *testing.T, setup func(*Server)) {
		e := newEnv(t)
		slot, _ := scriptedSlot(t, b.String())
		p := e.start(t, func(s *Server) { s.Slots["blue"] = mustURL(slot); setup(s) })
		c := dialRaw(t, p.url)
		c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
		if resp, body := c.read("GET"); resp.StatusCode != 200 || body != "ok" || len(resp.Header) < 50 {
			t.Fatalf("got %d %q with %d fields", resp.StatusCode, body, len(resp.Header))
		}
	})
}
