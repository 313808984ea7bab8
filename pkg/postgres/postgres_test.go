package postgres

import (
	"context"
	"net"
	"strings"
	"testing"
)

// An unreachable server is said once, not once per attempt pgx made
// (finding 10 of the operator-experience issue), and without the password.
func TestUnreachableSaidOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, err = Connect(context.Background(), "postgres://app:canary-pw-81@"+addr+"/app?connect_timeout=2")
	if err == nil {
		t.Fatal("connected to nothing")
	}
	msg := err.Error()
	if n := strings.Count(msg, "connection refused"); n != 1 || strings.Contains(msg, "canary-pw-81") {
		t.Fatalf("%d times connection refused, or the password, in:\n%s", n, msg)
	}
}
