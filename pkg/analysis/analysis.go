// Package analysis judges a rollout step from metrics: each measurement
// against its threshold, and a verdict that is never "pass" without data.
package analysis

import (
	"context"

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
