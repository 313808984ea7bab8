// Package live is a view that follows something changing: on a terminal it
// redraws one screen in place (weights as bars, slot readiness and version,
// the current step and the time to the next, the analysis metrics as
// sparklines against their thresholds); on a pipe it prints one line per
// change. Commands fill a Frame and call Draw each time they know more;
// `rollout status --watch` and `release --watch` share it.
package live

import (
	"io"
	"os"
	"time"
)

// SlotRow is one slot's readiness and version.
type SlotRow struct {
	Name    string
	Ready   bool
	Version string
	Detail  string // why it is not ready, its latency, …
}

// Metric is one analysis series of one slot, oldest value first.
type Metric struct {
	Name      string    // "error rate", "p95"
	Slot      string    // "blue", "green"
	Values    []float64 // one per step or poll; NaN is "no data"
	Threshold float64   // the newest value above it is a breach; 0 is none
	// Unit says how values read: "ratio" (shown as %), "seconds" (shown as
	// ms), anything else is printed after the number as it is.
	Unit string
}

// Frame is everything one screen shows.
type Frame struct {
	Title     string         // "rollout status", "release v42"
	Env       string         // environment
	At        time.Time      // when it was read; the line form prints it
	Active    string         // the active slot, marked beside its bar
	Weights   map[string]int // slot → percent
	Slots     []SlotRow      // the order of the weights' bars too
	Step      string         // the current step, "" when there is none
	StepIndex int            // 1-based, with Steps
	Steps     int            // 0 when the work has no numbered steps
	NextIn    time.Duration  // time to the next step or poll; 0 for none
	Metrics   []Metric
	Messages  []string // newest last; the screen shows the last few
	// Lines are drawn as they are under the header, before the traffic (a
	// release's steps); the line form leaves them out.
	Lines []string
	// Fit, when set, gives the Lines to draw when all of them do not fit
	// the terminal's rows: at most n (1 ≤ n < len(Lines)), such as a
	// release's finished steps collapsed into one line. Without it, or when
	// that is still too tall, the screen drops the blank rows between the
	// blocks, then the rows above the last one (the newest message). The
	// frame left on the normal screen by Close has all the Lines.
	Fit func(n int) []string
}

// View shows frames. Close ends the view and leaves the terminal as it was,
// with the last frame on it; call it on every way out, Ctrl-C included.
type View interface {
	Draw(Frame) error
	Close() error
}

// Options choose the form of a view.
type Options struct {
	Terminal bool // redraw in place, else one line per change
	Color    bool // ANSI colours (never with NO_COLOR)
	Width    int  // columns when out's size cannot be read; 0 is 80
	Height   int  // rows when out's size cannot be read; 0 is 24
}

// New is a view on out: redrawn in place when isTerminal, one line per
// change otherwise. Colour is on for a terminal unless NO_COLOR is set or
// TERM is dumb. width is the terminal's columns when out's size cannot be
// read (0: 80).
func New(out io.Writer, isTerminal bool, width int) View {
	_, noColor := os.LookupEnv("NO_COLOR")
	return NewWith(out, Options{Terminal: isTerminal, Width: width, Color: isTerminal && !noColor && os.Getenv("TERM") != "dumb"})
}

// NewWith is a view on out with explicit options.
func NewWith(out io.Writer, o Options) View {
	if o.Width <= 0 {
		o.Width = 80
	}
	if o.Height <= 0 {
		o.Height = 24
	}
	if o.Terminal {
		return newScreen(out, o)
	}
	return &lines{out: out}
}
