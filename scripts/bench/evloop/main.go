//go:build linux

// Command evloop is a measuring prototype, not a proxy: an epoll event
// loop on locked OS threads that relays plain HTTP/1.1 GETs (no request
// bodies, responses with Content-Length) to one upstream, on one upstream
// connection per client connection, with none of deployctl proxy's work
// (weights, headers, logs, hand-off). It answers one question for
// docs/benchmarks.md: how much of the proxy's distance to nginx is Go's
// netpoller → goroutine → M wake-up path, which an event loop avoids.
//
//	go run ./scripts/bench/evloop -listen 127.0.0.1:18085 -up 127.0.0.1:18001 -loops 2
package main

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"syscall"
)

type conn struct {
	fd, peer int
	client   bool
	buf      []byte
}

func main() {
	listen := flag.String("listen", "127.0.0.1:18085", "")
	up := flag.String("up", "127.0.0.1:18001", "")
	loops := flag.Int("loops", 1, "event loops (threads), each with its own SO_REUSEPORT listener")
	flag.Parse()
	upAddr, _ := net.ResolveTCPAddr("tcp", *up)
	la, _ := net.ResolveTCPAddr("tcp", *listen)
	for i := 0; i < *loops; i++ {
		lfd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK, 0)
		must(err)
		syscall.SetsockoptInt(lfd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
		syscall.SetsockoptInt(lfd, syscall.SOL_SOCKET, 0xf /* SO_REUSEPORT */, 1)
		var sa syscall.SockaddrInet4
		copy(sa.Addr[:], la.IP.To4())
		sa.Port = la.Port
		must(syscall.Bind(lfd, &sa))
		must(syscall.Listen(lfd, 1024))
		go loop(lfd, upAddr)
	}
	select {}
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func loop(lfd int, upAddr *net.TCPAddr) {
	runtime.LockOSThread()
	ep, err := syscall.EpollCreate1(0)
	must(err)
	must(syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, lfd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(lfd)}))
	conns := map[int]*conn{}
	events := make([]syscall.EpollEvent, 128)
	rbuf := make([]byte, 64<<10)
	for {
		n, err := syscall.EpollWait(ep, events, -1)
		if err != nil {
			continue
		}
		for _, ev := range events[:n] {
			fd := int(ev.Fd)
			if fd == lfd {
				for {
					cfd, _, err := syscall.Accept4(lfd, syscall.SOCK_NONBLOCK)
					if err != nil {
						break
					}
					syscall.SetsockoptInt(cfd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
					ufd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
					must(err)
					var sa syscall.SockaddrInet4
					copy(sa.Addr[:], upAddr.IP.To4())
					sa.Port = upAddr.Port
					must(syscall.Connect(ufd, &sa))
					syscall.SetNonblock(ufd, true)
					syscall.SetsockoptInt(ufd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
					conns[cfd] = &conn{fd: cfd, peer: ufd, client: true}
					conns[ufd] = &conn{fd: ufd, peer: cfd}
					syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, cfd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(cfd)})
					syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, ufd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(ufd)})
				}
				continue
			}
			c := conns[fd]
			if c == nil {
				continue
			}
			m, err := syscall.Read(fd, rbuf)
			if m <= 0 {
				if err == syscall.EAGAIN {
					continue
				}
				p := c.peer
				syscall.Close(fd)
				syscall.Close(p)
				delete(conns, fd)
				delete(conns, p)
				continue
			}
			c.buf = append(c.buf, rbuf[:m]...)
			for {
				end := bytes.Index(c.buf, []byte("\r\n\r\n"))
				if end < 0 {
					break
				}
				size := end + 4
				if !c.client {
					i := bytes.Index(bytes.ToLower(c.buf[:end]), []byte("content-length:"))
					if i < 0 {
						break
					}
					j := bytes.IndexByte(c.buf[i:], '\r')
					l, _ := strconv.Atoi(string(bytes.TrimSpace(c.buf[i+15 : i+j])))
					size += l
					if len(c.buf) < size {
						break
					}
				}
				syscall.Write(c.peer, c.buf[:size])
				c.buf = c.buf[size:]
			}
		}
	}
}
