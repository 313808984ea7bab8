// Package analysis judges a rollout step from metrics: each measurement
// against its threshold, and a verdict that is never "pass" without data.
package analysis

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
)

// Verdict of an analysis or of one measurement.
type Verdict string

const (
	Pass         Verdict = "pass"
	Fail         Verdict = "fail"         // a threshold was breached: abort
	Inconclusive Verdict = "inconclusive" // no data or errors: pause, never pass
)

// Measurement is one query, what it returned and how it was judged.
type Measurement struct {
	Name      string  `json:"name"`  // error_rate | p95
	Query     string  `json:"query"` // exactly as sent
	Value     float64 `json:"value"`
	Threshold float64 `json:"threshold"`
	Unit      string  `json:"unit,omitempty"` // "ratio", "seconds"
	Verdict   Verdict `json:"verdict"`
	Error     string  `json:"error,omitempty"`
}

// Report is the result of analysing one slot.
type Report struct {
	Slot         provider.Slot `json:"slot"`
	Verdict      Verdict       `json:"verdict"`
	Measurements []Measurement `json:"measurements"`
}

// Analyzer measures a slot and judges it.
type Analyzer interface {
	Analyze(ctx context.Context, slot provider.Slot) (Report, error)
}

// A WindowAnalyzer judges a slot by the last window only: a traffic step
// by the requests of its own wait, not by what the slot served before it.
type WindowAnalyzer interface {
	AnalyzeWindow(ctx context.Context, slot provider.Slot, window time.Duration) (Report, error)
}

// Judge returns the verdict of a value against its upper threshold.
func Judge(value, max float64) Verdict {
	if value > max {
		return Fail
	}
	return Pass
}

// Combine is the verdict of several measurements: Fail when any failed,
// else Inconclusive when any was inconclusive (or there were none), else Pass.
func Combine(ms []Measurement) Verdict {
	v := Pass
	if len(ms) == 0 {
		v = Inconclusive
	}
	for _, m := range ms {
		switch m.Verdict {
		case Fail:
			return Fail
		case Inconclusive:
			v = Inconclusive
		case Pass:
		default:
			v = Inconclusive
		}
	}
	return v
}

// String tells a person what was measured and how it was judged, with the
// query as sent, e.g.
// `error_rate 0.0300 > 0.0100 (ratio): fail; query: sum(…)`.
func (m Measurement) String() string {
	var obs string
	switch {
	case m.Verdict == Inconclusive:
		obs = fmt.Sprintf("no value (threshold %s): inconclusive, %s", m.format(m.Threshold), m.Error)
	case m.Verdict == Fail:
		obs = fmt.Sprintf("%s > threshold %s: fail", m.format(m.Value), m.format(m.Threshold))
	default:
		obs = fmt.Sprintf("%s <= threshold %s: %s", m.format(m.Value), m.format(m.Threshold), m.Verdict)
	}
	return fmt.Sprintf("%s %s; query: %s", m.Name, obs, m.Query)
}

// format shows ratios as percentages and seconds as milliseconds.
func (m Measurement) format(v float64) string {
	switch m.Unit {
	case "ratio":
		return round3(v*100) + "%"
	case "seconds":
		return round3(v*1000) + "ms"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// round3 drops float noise (3.0000000000000004) from what people read.
func round3(v float64) string {
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}
