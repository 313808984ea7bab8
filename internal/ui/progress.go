package ui

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Progress shows bytes, rate and elapsed time of long work on stderr, only
// when stderr is a terminal. It is an io.Writer counting what passes.
type Progress struct {
	label   string
	w       io.Writer
	total   int64
	n       atomic.Int64
	start   time.Time
	stop    chan struct{}
	wg      sync.WaitGroup
	enabled bool
	once    sync.Once
}

// NewProgress starts a progress line; total may be 0 when unknown, and
// below 0 for work that is not counted in bytes (the line then shows the
// label and the time elapsed, so that a long step is seen to go on).
func (s *IOStreams) NewProgress(label string, total int64) *Progress {
	p := &Progress{label: label, w: s.ErrOut, total: total, start: time.Now(), stop: make(chan struct{}), enabled: s.StderrTTY}
	if p.enabled {
		p.wg.Add(1)
		go p.loop()
	}
	return p
}

func (p *Progress) Write(b []byte) (int, error) {
	p.n.Add(int64(len(b)))
	return len(b), nil
}

// Add counts n more bytes.
func (p *Progress) Add(n int64) { p.n.Add(n) }

func (p *Progress) loop() {
	defer p.wg.Done()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.render()
		}
	}
}

func (p *Progress) render() {
	n := p.n.Load()
	el := time.Since(p.start)
	if p.total < 0 {
		fmt.Fprintf(p.w, "\r%s…  %s   ", p.label, el.Round(100*time.Millisecond))
		return
	}
	rate := float64(n) / el.Seconds()
	line := fmt.Sprintf("\r%s: %s", p.label, HumanBytes(n))
	if p.total > 0 {
		line += fmt.Sprintf(" / %s (%d%%)", HumanBytes(p.total), n*100/p.total)
	}
	line += fmt.Sprintf("  %s/s  %s   ", HumanBytes(int64(rate)), el.Round(100*time.Millisecond))
	fmt.Fprint(p.w, line)
}

// Done stops the line and ends it; a second Done does nothing.
func (p *Progress) Done() {
	if !p.enabled {
		return
	}
	p.once.Do(func() {
		close(p.stop)
		p.wg.Wait()
		p.render()
		fmt.Fprintln(p.w)
	})
}

// HumanBytes formats n bytes: 512 B, 1.5 MiB.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
