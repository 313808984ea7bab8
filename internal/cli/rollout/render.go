package rollout

import (
	"fmt"
	"strings"

	"github.com/deployctl/deployctl/pkg/analysis"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/rollout"
)

// ResultJSON is the JSON of a changing rollout command.
type ResultJSON struct {
	DryRun  bool                 `json:"dry_run"`
	Result  string               `json:"result"` // ok | planned | aborted | paused
	Active  provider.Slot        `json:"active"`
	Weights provider.Weights     `json:"weights"`
	Before  provider.Weights     `json:"before"`
	Plan    []rollout.Step       `json:"plan"`
	Reports []rollout.StepReport `json:"analysis,omitempty"`
	// DataPlane is set where the provider can say whether its data plane
	// serves (local); with up false the weights were stored, not read back.
	DataPlane *provider.DataPlaneStatus `json:"data_plane,omitempty"`
	Error     string                    `json:"error,omitempty"`
}

func toJSON(res *rollout.Result, result string) ResultJSON {
	return ResultJSON{DryRun: res.DryRun, Result: result, Active: res.After.Active, Weights: res.After.Weights,
		Before: res.Before.Weights, Plan: res.Plan, Reports: res.Reports, DataPlane: res.DataPlane}
}

func renderResult(opts *ChangeOptions, res *rollout.Result) error {
	if opts.Factory.Flags.JSON() {
		result := "ok"
		if res.DryRun {
			result = "planned"
		}
		return opts.IO.JSON(toJSON(res, result))
	}
	out := opts.IO.Out
	if res.DryRun {
		fmt.Fprintln(out, "plan (dry run, nothing changed):")
		for i, st := range res.Plan {
			fmt.Fprintf(out, "  %d. %s → %s%s\n", i+1, st.Before.String(), st.After.String(), note(st))
		}
		return nil
	}
	for i, r := range res.Reports {
		fmt.Fprintf(out, "step %d (%d%%): analysis %s\n", i+1, r.Weight, r.Report.Verdict)
	}
	last := res.Plan[len(res.Plan)-1]
	if dp := res.DataPlane; dp != nil && !dp.Up {
		// nothing was read back: say what was done, and what is not
		fmt.Fprintf(out, "weights %s stored, %s: %s; it serves them once started: %s\n",
			res.After.Weights.String(), opts.IO.Theme().Status("not in effect"), dp.Detail, dp.Start)
		return nil
	}
	if opts.Op == rollout.OpWeight {
		fmt.Fprintf(out, "%s gets %d%%: weights %s, read back from the data plane; %s stays active\n",
			opts.Slot, res.After.Weights[opts.Slot], res.After.Weights.String(), res.After.Active)
		if res.After.Candidate != "" && res.After.Weights[res.After.Candidate] == 100 {
			fmt.Fprintf(out, "next: deployctl rollout promote (makes %s active)\n", res.After.Candidate)
		}
		return nil
	}
	fmt.Fprintf(out, "weights %s, read back from the data plane; %s\n", res.After.Weights.String(), last.Note)
	return nil
}

func note(st rollout.Step) string {
	if st.Note == "" {
		return ""
	}
	return "; " + st.Note
}

// renderGate shows why analysis stopped the rollout: per measurement the
// query as sent, the observed value, the threshold and the verdict.
func renderGate(opts *ChangeOptions, res *rollout.Result, ge *rollout.GateError) {
	result := "paused"
	if ge.Verdict == analysis.Fail {
		result = "aborted"
	}
	if opts.Factory.Flags.JSON() {
		j := toJSON(res, result)
		j.Error = ge.Error()
		opts.IO.JSON(j)
	}
	w := opts.IO.ErrOut
	fmt.Fprintf(w, "step %d (%s at %d%%): analysis %s\n", ge.Step.Step, ge.Step.Report.Slot, ge.Step.Weight, strings.ToUpper(string(ge.Verdict)))
	for _, m := range ge.Step.Report.Measurements {
		fmt.Fprintf(w, "  %-10s %s  observed %s, threshold %s\n", m.Name, m.Verdict, value(m, m.Value), value(m, m.Threshold))
		fmt.Fprintf(w, "             query: %s\n", m.Query)
		if m.Error != "" {
			fmt.Fprintf(w, "             error: %s\n", m.Error)
		}
	}
	fmt.Fprintf(w, "error: %s\n", ge.Error())
	if res != nil {
		fmt.Fprintf(w, "%s is active; weights %s\n", res.After.Active, res.After.Weights.String())
	}
}

func value(m analysis.Measurement, v float64) string {
	if m.Error != "" && v == 0 {
		return "none"
	}
	switch m.Unit {
	case "seconds":
		return fmt.Sprintf("%.0fms", v*1000)
	case "ratio":
		return fmt.Sprintf("%.2f%%", v*100)
	}
	return fmt.Sprintf("%g", v)
}
