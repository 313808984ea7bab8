package release

import (
	"github.com/deployctl/deployctl/pkg/release"
)

// watch follows the release as it goes: one line per step change on stderr
// (the live view redraws in place on a terminal). It returns the function
// that stops following.
func watch(o *Options, e *release.Engine) (stop func()) {
	last := map[string]release.StepStatus{}
	e.OnChange = func(r release.Record) {
		for _, s := range r.Steps {
			if last[s.Name] == s.Status {
				continue
			}
			last[s.Name] = s.Status
			if s.Status == release.StepPending || s.Status == release.StepRunning { // the step's note said it starts
				continue
			}
			line := r.Name() + " " + s.Name + ": " + string(s.Status)
			if s.Detail != "" {
				line += " — " + s.Detail
			}
			o.IO.Printf("%s\n", line)
		}
	}
	return func() { e.OnChange = nil }
}
