package backup

import (
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// ChunkSize is the input of one zstd frame. klauspost's stream encoder
// compresses one stream on one core, which made it the slowest part of
// create; independent frames of 2 MiB compress on all cores (as zstd -T
// does) and a reader decodes them as one stream. In flight at most
// (cores + 2) chunks and their output: about 20 MiB on 2 cores.
const ChunkSize = 2 << 20

// pzstd compresses what is written to it in parallel frames, written to w
// in order.
type pzstd struct {
	w     io.Writer
	enc   *zstd.Encoder
	cur   []byte
	sent  bool
	queue chan *frame
	free  chan []byte // recycled buffers: less garbage, a flat heap
	done  chan struct{}
	once  sync.Once
	mu    sync.Mutex
	err   error
}

type frame struct {
	in, out []byte
	ready   chan struct{}
}

func newPzstd(w io.Writer, workers int) (*pzstd, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(Level), zstd.WithEncoderConcurrency(workers))
	if err != nil {
		return nil, err
	}
	p := &pzstd{w: w, enc: enc, queue: make(chan *frame, workers), free: make(chan []byte, 2*workers+6), done: make(chan struct{})}
	go p.writeLoop()
	return p, nil
}

func (p *pzstd) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		if err := p.failed(); err != nil {
			return 0, err
		}
		if p.cur == nil {
			p.cur = p.buffer()
		}
		k := min(len(b), ChunkSize-len(p.cur))
		p.cur, b = append(p.cur, b[:k]...), b[k:]
		if len(p.cur) == ChunkSize {
			p.submit()
		}
	}
	return n, nil
}

// submit compresses the current chunk in the background; it blocks while
// the queue is full, which bounds the memory.
func (p *pzstd) submit() {
	f := &frame{in: p.cur, ready: make(chan struct{})}
	p.cur, p.sent = nil, true
	go func() {
		f.out = p.enc.EncodeAll(f.in, p.buffer())
		close(f.ready)
	}()
	p.queue <- f
}

func (p *pzstd) writeLoop() {
	defer close(p.done)
	for f := range p.queue {
		<-f.ready
		if p.failed() == nil {
			if _, err := p.w.Write(f.out); err != nil {
				p.fail(err)
			}
		}
		p.recycle(f.in)
		p.recycle(f.out)
	}
}

func (p *pzstd) buffer() []byte {
	select {
	case b := <-p.free:
		return b[:0]
	default:
		return make([]byte, 0, ChunkSize)
	}
}

func (p *pzstd) recycle(b []byte) {
	select {
	case p.free <- b:
	default:
	}
}

func (p *pzstd) failed() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func (p *pzstd) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		p.err = err
	}
}

// Close compresses the last chunk (an empty frame for empty input) and
// waits until every frame is written.
func (p *pzstd) Close() error {
	if len(p.cur) > 0 || !p.sent {
		p.submit()
	}
	p.stop()
	return p.failed()
}

// stop ends the writer goroutine; after an error it drops what is queued.
func (p *pzstd) stop() {
	p.once.Do(func() { close(p.queue) })
	<-p.done
}
