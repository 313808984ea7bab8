package live

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// lines is the view on a pipe or file: one line per change, nothing when
// nothing changed. Times and countdowns are not changes.
type lines struct {
	out  io.Writer
	last string
}

func (l *lines) Draw(f Frame) error {
	s := line(f)
	if s == l.last {
		return nil
	}
	l.last = s
	if !f.At.IsZero() {
		s = f.At.UTC().Format(time.RFC3339) + " " + s
	}
	_, err := fmt.Fprintln(l.out, s)
	return err
}

func (l *lines) Close() error { return nil }

// line is a frame on one line: the environment, the weights, each slot, the
// step and the newest value of each metric.
func line(f Frame) string {
	var parts []string
	head := f.Env
	if f.Env != "" {
		head += ": "
	}
	parts = append(parts, head+"weights "+f.weights())
	var slots []string
	for _, s := range f.Slots {
		slots = append(slots, s.Name+" "+readiness(s.Ready)+" "+orDash(s.Version))
	}
	if len(slots) > 0 {
		parts = append(parts, strings.Join(slots, ", "))
	}
	if st := f.step(); st != "" {
		parts = append(parts, st)
	}
	var ms []string
	for _, m := range f.Metrics {
		s := m.Name + " " + m.Slot + " " + m.value(m.last())
		if m.Breached() {
			s += " BREACH > " + m.value(m.Threshold)
		}
		ms = append(ms, s)
	}
	if len(ms) > 0 {
		parts = append(parts, strings.Join(ms, ", "))
	}
	if n := len(f.Messages); n > 0 {
		parts = append(parts, f.Messages[n-1])
	}
	return strings.Join(parts, "; ")
}

func readiness(ready bool) string {
	if ready {
		return "ready"
	}
	return "not ready"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
