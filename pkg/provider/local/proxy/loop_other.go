//go:build !linux

package proxy

import (
	"errors"
	"net"
)

// evLoopsAvailable says whether this build has event loops: they use
// epoll, so elsewhere goroutines serve every connection.
const evLoopsAvailable = false

type evLoop struct{}

func (l *evLoop) post(func()) bool { return false }
func (l *evLoop) shutdown(bool)    {}

func (f *fastServer) startLoops(int) error { return errors.New("event loops need Linux") }
func (f *fastServer) toLoop(net.Conn)      {}
