package proxy

import (
	"net"
	"syscall"
)

// peekQuiet asks the kernel, without waiting and without consuming
// anything, whether c has bytes to read or has reached its end. It is true
// only when neither: the connection is quiet and fit for reuse. A
// connection it cannot ask is treated as quiet (the exchange then fails on
// it, and is retried where that is safe).
func peekQuiet(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	quiet := false
	err = rc.Read(func(fd uintptr) bool {
		quiet = peekQuietFD(int(fd))
		return true // never wait
	})
	return err == nil && quiet
}

// peekQuietFD is peekQuiet on a socket's descriptor.
func peekQuietFD(fd int) bool {
	var buf [1]byte
	n, _, err := syscall.Recvfrom(fd, buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	// EAGAIN: nothing to read, the connection is open; n == 0: its end;
	// n > 0: bytes nobody asked for
	return n < 0 && (err == syscall.EAGAIN || err == syscall.EWOULDBLOCK)
}
