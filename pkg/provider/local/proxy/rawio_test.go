package proxy

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() { c, _ := ln.Accept(); accepted <- c }()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b := <-accepted
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// TestRawIOCopiesLargeStreams writes more than the socket buffers hold, so
// writes stop on EAGAIN and wait in the netpoller, and reads come in pieces.
func TestRawIOCopiesLargeStreams(t *testing.T) {
	a, b := tcpPair(t)
	data := make([]byte, 8<<20)
	rand.Read(data)
	w, r := rawReadWriter(a), rawReadWriter(b)
	if _, ok := w.(*rawIO); !ok {
		t.Fatal("not a raw reader/writer for a TCP connection")
	}
	errc := make(chan error, 1)
	go func() {
		n, err := w.Write(data)
		if err == nil && n != len(data) {
			err = io.ErrShortWrite
		}
		a.(*net.TCPConn).CloseWrite()
		errc <- err
	}()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes, not the %d written", len(got), len(data))
	}
}

func TestRawIOErrors(t *testing.T) {
	a, b := tcpPair(t)
	r := rawReadWriter(b)
	b.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := r.Read(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("past the deadline: %v", err)
	}
	b.SetReadDeadline(time.Time{})
	a.Write([]byte("last"))
	a.Close()
	buf := make([]byte, 10)
	if n, err := r.Read(buf); n != 4 || err != nil || string(buf[:4]) != "last" {
		t.Fatalf("read %q %v", buf[:n], err)
	}
	if _, err := r.Read(buf); err != io.EOF {
		t.Fatalf("after the peer closed: %v, want EOF", err)
	}
	b.Close()
	if _, err := r.Read(buf); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("after closing: %v", err)
	}
	if _, err := rawReadWriter(b).Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after closing: %v", err)
	}
}

// A write to a peer that reset the connection reports the error instead
// of pretending it was sent.
func TestRawIOWriteToResetPeer(t *testing.T) {
	a, b := tcpPair(t)
	b.(*net.TCPConn).SetLinger(0)
	b.Close() // RST
	w := rawReadWriter(a)
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = w.Write(make([]byte, 64<<10))
		time.Sleep(time.Millisecond)
	}
	if err == nil {
		t.Fatal("writes to a reset connection kept succeeding")
	}
}
