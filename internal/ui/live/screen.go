package live

import (
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/creack/pty"
	"github.com/muesli/termenv"
)

// The terminal sequences of the screen: the alternate screen (the
// operator's scrollback stays untouched), the cursor hidden while drawing,
// home, clear to the end of the line and of the screen, and synchronized
// output (terminals that know it show a frame at once; others ignore it).
const (
	enterScreen = "\x1b[?1049h\x1b[?25l"
	leaveScreen = "\x1b[?1049l\x1b[?25h"
	beginFrame  = "\x1b[?2026h\x1b[H"
	endFrame    = "\x1b[J\x1b[?2026l"
	clearLine   = "\x1b[K"
)

// screen is the view on a terminal: each frame overwrites the previous one
// in place, line by line, cut to the terminal's width and height (read at
// every draw, and redrawn at once on a resize).
type screen struct {
	mu      sync.Mutex
	out     io.Writer
	o       Options
	st      styles
	started bool
	closed  bool
	frame   *Frame
	drawn   string // the last screen written, to skip an identical one
	stop    func()
}

func newScreen(out io.Writer, o Options) *screen {
	s := &screen{out: out, o: o, st: newStyles(out, o.Color)}
	s.stop = onResize(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.frame != nil && !s.closed {
			_ = s.draw(*s.frame)
		}
	})
	return s
}

func (s *screen) Draw(f Frame) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.frame = &f
	return s.draw(f)
}

func (s *screen) draw(f Frame) error {
	w, h := s.size()
	rows := s.st.fit(f, w, h)
	var b strings.Builder
	if !s.started {
		b.WriteString(enterScreen)
	}
	b.WriteString(beginFrame)
	for i, r := range rows {
		b.WriteString(ansi.Truncate(r, w, ""))
		b.WriteString(clearLine)
		if i < len(rows)-1 {
			b.WriteString("\r\n")
		}
	}
	b.WriteString(endFrame)
	key := strconv.Itoa(w) + "x" + strconv.Itoa(h) + b.String()
	if s.started && key == s.drawn {
		return nil
	}
	s.started, s.drawn = true, key
	_, err := io.WriteString(s.out, b.String())
	return err
}

// Close leaves the alternate screen, shows the cursor and prints the last
// frame on the normal screen, so what was seen stays in the scrollback.
func (s *screen) Close() error {
	s.stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || !s.started {
		s.closed = true
		return nil
	}
	s.closed = true
	w, _ := s.size()
	var b strings.Builder
	b.WriteString(leaveScreen)
	if s.frame != nil {
		for _, r := range s.st.render(*s.frame, w) {
			b.WriteString(ansi.Truncate(r, w, "") + "\r\n")
		}
	}
	_, err := io.WriteString(s.out, b.String())
	return err
}

// size is the terminal's columns and rows, or the options' when out is not
// a terminal whose size can be read.
func (s *screen) size() (w, h int) {
	if f, ok := s.out.(*os.File); ok {
		if rows, cols, err := pty.Getsize(f); err == nil && rows > 0 && cols > 0 {
			return cols, rows
		}
	}
	return s.o.Width, s.o.Height
}

// styles are the screen's lipgloss styles, bound to out's colour profile.
type styles struct {
	title, head, faint, ok, fail, warn lipgloss.Style
	bar                                map[string]lipgloss.Style
}

func newStyles(out io.Writer, color bool) styles {
	r := lipgloss.NewRenderer(out)
	r.SetColorProfile(termenv.Ascii)
	if color {
		r.SetColorProfile(termenv.ANSI256)
	}
	c := func(n string) lipgloss.Style { return r.NewStyle().Foreground(lipgloss.Color(n)) }
	return styles{
		title: r.NewStyle().Bold(true), head: r.NewStyle().Bold(true), faint: r.NewStyle().Faint(true),
		ok: c("2"), fail: c("1").Bold(true), warn: c("3"),
		bar: map[string]lipgloss.Style{"blue": c("4"), "green": c("2"), "": c("6")},
	}
}

// fit lays a frame out in at most height rows: all of it when it fits;
// else with the Lines the frame's Fit gives for the room left (counting
// the blank rows between the blocks as room when that leaves the Lines
// fewer than two rows); then without those blank rows, from the top; at
// last the first rows and the bottom one (the newest message, which says
// what is going on), never the rows in between cut off the bottom.
func (st styles) fit(f Frame, width, height int) []string {
	height = max(height, 1)
	rows := st.render(f, width)
	if len(rows) <= height {
		return rows
	}
	if f.Fit != nil && len(f.Lines) > 1 {
		over := len(rows) - height
		n := len(f.Lines) - over
		if n < 2 {
			n = len(f.Lines) - max(0, over-blanks(rows))
		}
		if n < len(f.Lines) {
			g := f
			g.Lines = f.Fit(max(1, n))
			rows = st.render(g, width)
		}
	}
	for i := 0; i < len(rows) && len(rows) > height; {
		if rows[i] == "" {
			rows = append(rows[:i], rows[i+1:]...)
			continue
		}
		i++
	}
	if len(rows) > height {
		rows = append(rows[:height-1:height-1], rows[len(rows)-1])
	}
	return rows
}

func blanks(rows []string) int {
	n := 0
	for _, r := range rows {
		if r == "" {
			n++
		}
	}
	return n
}

// render lays a frame out as the screen's lines.
func (st styles) render(f Frame, width int) []string {
	var out []string
	add := func(format string, a ...any) { out = append(out, fmt.Sprintf(format, a...)) }
	head := "deployctl"
	for _, p := range []string{f.Title, f.Env} {
		if p != "" {
			head += " · " + p
		}
	}
	next := ""
	if f.NextIn > 0 {
		next = st.faint.Render(" · next in " + duration(f.NextIn))
	}
	if f.step() != "" {
		add("%s", st.title.Render(head))
	} else {
		add("%s%s", st.title.Render(head), next)
	}
	add("")
	if len(f.Lines) > 0 {
		out = append(out, f.Lines...)
		add("")
	}
	add("%s", st.head.Render("TRAFFIC"))
	names := f.slotNames()
	nw := 5
	for _, n := range names {
		nw = max(nw, len(n))
	}
	bw := max(10, min(50, width-nw-18))
	for _, n := range names {
		add("  %s %s %4d%%%s", pad(n, nw), st.weightBar(n, f.Weights[n], bw), f.Weights[n], st.faint.Render(activeMark(n, f.Active)))
	}
	if len(f.Slots) > 0 {
		add("")
		add("%s", st.head.Render(pad("SLOT", nw+4)+pad("READY", 13)+pad("VERSION", 12)+"DETAIL"))
		for _, s := range f.Slots {
			ready := st.ok.Render(pad("✔ ready", 13))
			if !s.Ready {
				ready = st.fail.Render(pad("✖ not ready", 13))
			}
			add("  %s%s%s%s", pad(s.Name, nw+2), ready, pad(orDash(s.Version), 12), s.Detail)
		}
	}
	if step := f.step(); step != "" {
		add("")
		add("%s%s%s", st.head.Render("STEP  "), step, next)
	}
	out = append(out, st.metrics(f.Metrics, width)...)
	if n := len(f.Messages); n > 0 {
		add("")
		for _, m := range f.Messages[max(0, n-3):] {
			add("%s", st.faint.Render(m))
		}
	}
	return out
}

// metrics is the ANALYSIS block: one row per series with its sparkline, the
// newest value, the threshold and ok or BREACH.
func (st styles) metrics(ms []Metric, width int) []string {
	if len(ms) == 0 {
		return nil
	}
	mw, sw := 10, 5
	for _, m := range ms {
		mw, sw = max(mw, len(m.Name)), max(sw, len(m.Slot))
	}
	n := max(4, min(30, width-mw-sw-36))
	out := []string{"", st.head.Render(pad("ANALYSIS", mw+sw+n+8) + pad("NOW", 10) + "MAX")}
	for _, m := range ms {
		plain := sparkline(m.Values, m.Threshold, n)
		line := plain + strings.Repeat(" ", n+2-len([]rune(plain)))
		verdict, val := st.ok.Render("ok"), m.value(m.last())
		switch {
		case m.Breached():
			verdict = st.fail.Render("BREACH")
			line = st.fail.Render(plain) + line[len(plain):]
		case math.IsNaN(m.last()):
			verdict, val = st.warn.Render("no data"), "-"
		}
		limit := "-"
		if m.Threshold > 0 {
			limit = m.value(m.Threshold)
		}
		out = append(out, "  "+pad(m.Name, mw+2)+pad(m.Slot, sw+2)+line+pad(val, 10)+pad(limit, 9)+verdict)
	}
	return out
}

// weightBar is a bar of n cells, pct of them full, in the slot's colour.
func (st styles) weightBar(slot string, pct, n int) string {
	full := (min(max(pct, 0), 100)*n + 50) / 100
	bs, ok := st.bar[slot]
	if !ok {
		bs = st.bar[""]
	}
	return bs.Render(strings.Repeat("█", full)) + st.faint.Render(strings.Repeat("░", n-full))
}

func activeMark(slot, active string) string {
	if slot == active && active != "" {
		return "  active"
	}
	return ""
}

// pad fills plain text with spaces to n cells.
func pad(s string, n int) string {
	if w := ansi.StringWidth(s); w < n {
		return s + strings.Repeat(" ", n-w)
	}
	return s
}
