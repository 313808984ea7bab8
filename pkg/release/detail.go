package release

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/deployctl/deployctl/pkg/analysis"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/rollout"
)

// trafficFailure is why traffic step weight of r stopped, on one line: the
// detail of the step in the record (`release show`, the step table, the
// live view). err is what the traffic engine said; read is whether
// r.Traffic was just read back from the data plane.
func trafficFailure(r *Record, weight int, err error, read bool) string {
	var ge *rollout.GateError
	if errors.As(err, &ge) {
		return GateDetail(r, ge)
	}
	traffic := "the traffic could not be read back"
	if read {
		traffic = fmt.Sprintf("the traffic is %s (read back)", r.Traffic)
	}
	return fmt.Sprintf("the weight change to %s failed: %v; %s", provider.Split(r.Slot, weight), err, traffic)
}

// GateDetail is the judgement of the analysis that stopped a traffic step
// of r, on one line: the measurements that failed it against their
// thresholds (`error rate 50% > 1%`), and where the traffic is.
func GateDetail(r *Record, ge *rollout.GateError) string {
	var parts []string
	for _, m := range ge.Step.Report.Measurements {
		switch {
		case ge.Verdict == analysis.Fail && m.Verdict == analysis.Fail:
			parts = append(parts, fmt.Sprintf("%s %s > %s", MetricName(m), Measured(m, m.Value), Measured(m, m.Threshold)))
		case ge.Verdict != analysis.Fail && m.Verdict != analysis.Pass:
			why := "no value"
			if m.Error != "" {
				why = m.Error
			}
			parts = append(parts, MetricName(m)+" "+why)
		}
	}
	if ge.Verdict == analysis.Fail {
		if r.Traffic != nil && r.Traffic[r.Active] != 100 { // the engine could not send it back
			return fmt.Sprintf("analysis breached: %s; the traffic reads back as %s, not all on %s", strings.Join(parts, ", "), r.Traffic, r.Active)
		}
		return fmt.Sprintf("analysis breached: %s; all traffic back on %s", strings.Join(parts, ", "), r.Active)
	}
	if len(parts) == 0 && ge.Err != nil {
		parts = append(parts, ge.Err.Error())
	}
	return fmt.Sprintf("analysis inconclusive: %s; the traffic stays at %s", strings.Join(parts, ", "), provider.Split(r.Slot, ge.Step.Weight))
}

// MetricName is a measurement's name for people: "error rate", "p95".
func MetricName(m analysis.Measurement) string { return strings.ReplaceAll(m.Name, "_", " ") }

// Measured is a number of measurement m in its unit: ratios as %, seconds
// as ms, with the decimals a person compares.
func Measured(m analysis.Measurement, v float64) string {
	switch m.Unit {
	case "ratio":
		return decimals(v*100) + "%"
	case "seconds":
		return decimals(v*1000) + "ms"
	}
	return decimals(v)
}

func decimals(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
	case a >= 1:
		return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
	}
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}
