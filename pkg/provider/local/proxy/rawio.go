package proxy

import (
	"io"
	"net"
	"syscall"
	"unsafe"
)

// rawIO reads and writes a TCP connection with raw system calls through
// its RawConn: the socket is non-blocking, so a read or write never waits
// in the kernel, and the waiting is done by Go's netpoller as for any
// connection (deadlines included). What it saves is the runtime's syscall
// bookkeeping: every ordinary socket call wakes the runtime's monitor
// thread (sysmon) when the process was idle, and sysmon then runs a few
// 20 µs sleeps before it goes back to sleep. On a proxy at a moderate
// rate, which goes idle between requests, that was 2.5 extra thread
// wake-ups per request (counted from /proc), each a chance to wait for a
// CPU, and the proxy's tail latency showed it.
type rawIO struct {
	rc      syscall.RawConn
	buf     []byte
	n       int
	errno   syscall.Errno
	readFn  func(fd uintptr) bool
	writeFn func(fd uintptr) bool
}

// rawReadWriter returns c's raw reader/writer, or c itself when it is not a
// TCP connection.
func rawReadWriter(c net.Conn) io.ReadWriter {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	r := &rawIO{rc: rc}
	r.readFn, r.writeFn = r.read, r.write
	return r
}

func (r *rawIO) read(fd uintptr) bool {
	n, e := rawRead(int(fd), r.buf)
	if e == syscall.EAGAIN {
		return false // wait in the netpoller
	}
	r.n, r.errno = n, e
	return true
}

func (r *rawIO) write(fd uintptr) bool {
	for r.n < len(r.buf) {
		n, e := rawWrite(int(fd), r.buf[r.n:])
		switch e {
		case 0:
			r.n += n
		case syscall.EAGAIN:
			return false
		default:
			r.errno = e
			return true
		}
	}
	return true
}

func (r *rawIO) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.buf, r.n, r.errno = p, 0, 0
	err := r.rc.Read(r.readFn)
	r.buf = nil
	switch {
	case err != nil:
		return 0, err // closed, or the deadline passed
	case r.errno != 0:
		return 0, &net.OpError{Op: "read", Net: "tcp", Err: r.errno}
	case r.n == 0:
		return 0, io.EOF
	}
	return r.n, nil
}

func (r *rawIO) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.buf, r.n, r.errno = p, 0, 0
	err := r.rc.Write(r.writeFn)
	n := r.n
	r.buf = nil
	switch {
	case err != nil:
		return n, err
	case r.errno != 0:
		return n, &net.OpError{Op: "write", Net: "tcp", Err: r.errno}
	}
	return n, nil
}

// rawRead and rawWrite are read(2) and write(2) without the runtime's
// syscall bookkeeping, retried on EINTR; p must not be empty.
func rawRead(fd int, p []byte) (int, syscall.Errno) {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		if e != syscall.EINTR {
			return int(n), e
		}
	}
}

func rawWrite(fd int, p []byte) (int, syscall.Errno) {
	for {
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		if e != syscall.EINTR {
			return int(n), e
		}
	}
}
