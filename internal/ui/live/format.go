package live

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/deployctl/deployctl/pkg/timeutil"
)

// sparks are the eight heights of a sparkline. A value at or under its
// threshold is one of the first seven (the threshold is the top of ▇); a
// breach is always █, so the ceiling is visible without colour.
var sparks = []rune("▁▂▃▄▅▆▇█")

// noData marks a poll or step without a value.
const noData = '·'

// sparkline draws values, at most n of them (the newest), scaled to their
// threshold, or to their maximum when there is none.
func sparkline(values []float64, threshold float64, n int) string {
	if n > 0 && len(values) > n {
		values = values[len(values)-n:]
	}
	top := threshold
	if top <= 0 {
		for _, v := range values {
			if !math.IsNaN(v) && v > top {
				top = v
			}
		}
	}
	var b strings.Builder
	for _, v := range values {
		b.WriteRune(spark(v, top, threshold > 0))
	}
	return b.String()
}

func spark(v, top float64, limited bool) rune {
	switch {
	case math.IsNaN(v):
		return noData
	case limited && v > top:
		return sparks[7]
	case top <= 0 || v <= 0:
		return sparks[0]
	}
	levels := 7 // ▁…▇ under a threshold
	if !limited {
		levels = 8
	}
	i := int(math.Ceil(v/top*float64(levels))) - 1
	return sparks[max(0, min(i, levels-1))]
}

// last is the newest value, NaN when there is none.
func (m Metric) last() float64 {
	if len(m.Values) == 0 {
		return math.NaN()
	}
	return m.Values[len(m.Values)-1]
}

// Breached is whether the newest value is above the threshold.
func (m Metric) Breached() bool {
	v := m.last()
	return m.Threshold > 0 && !math.IsNaN(v) && v > m.Threshold
}

// value shows a metric's number in its unit: ratios as %, seconds as ms.
func (m Metric) value(v float64) string {
	if math.IsNaN(v) {
		return "no data"
	}
	switch m.Unit {
	case "ratio":
		return round(v*100) + "%"
	case "seconds":
		return round(v*1000) + "ms"
	case "":
		return round(v)
	}
	return round(v) + m.Unit
}

// round drops float noise and keeps what a person compares: 3 significant
// decimals at most.
func round(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
	case a >= 1:
		return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
	}
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}

// slotNames is the order of the slots: the rows', then the weights' others.
func (f Frame) slotNames() []string {
	seen := map[string]bool{}
	var names []string
	for _, s := range f.Slots {
		if !seen[s.Name] {
			seen[s.Name] = true
			names = append(names, s.Name)
		}
	}
	var rest []string
	for n := range f.Weights {
		if !seen[n] {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	return append(names, rest...)
}

// weights is "blue 90 / green 10".
func (f Frame) weights() string {
	var parts []string
	for _, n := range f.slotNames() {
		parts = append(parts, n+" "+strconv.Itoa(f.Weights[n]))
	}
	return strings.Join(parts, " / ")
}

// step is "step 2 of 3: green 50%", or the bare step.
func (f Frame) step() string {
	s := f.Step
	if f.Steps > 0 {
		s = strings.TrimSuffix("step "+strconv.Itoa(f.StepIndex)+" of "+strconv.Itoa(f.Steps)+": "+s, ": ")
	}
	return s
}

// duration is a countdown a person reads: 1m30s, 4s, 300ms.
func duration(d time.Duration) string {
	if d < time.Second {
		return d.String()
	}
	return timeutil.FormatDuration(d)
}
