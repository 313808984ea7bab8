package rollout

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui/live"
	"github.com/deployctl/deployctl/pkg/analysis"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/rollout"
)

// maxPoints is how many polls a sparkline keeps.
const maxPoints = 60

// watcher is `rollout status --watch`: it reads the status (and the
// analysis, when configured) every Interval and draws it, until ctx ends
// or, with UntilStable, the rollout is stable.
type watcher struct {
	Status      func(context.Context) (*rollout.Status, error)
	Analyzer    analysis.Analyzer // nil: no analysis configured
	View        live.View
	Env         string
	Interval    time.Duration
	UntilStable bool
	Now         func() time.Time
	Sleep       func(context.Context, time.Duration) error

	series map[string]*live.Metric // "error_rate/green" → its values so far
	order  []string                // the series' keys, first seen first
}

// errWatchInterrupted ends a watch on Ctrl-C: exit 130 as CLI.md says,
// with nothing more printed (the view was the output).
var errWatchInterrupted = errors.Join(&app.SilentError{Code: app.ExitInterrupted}, context.Canceled)

// run polls until Ctrl-C (exit 130) or, with UntilStable, a stable rollout
// (exit 0). A first status that cannot be read is the command's error; a
// later one is shown and the watch goes on.
func (w *watcher) run(ctx context.Context) (err error) {
	defer func() {
		if cerr := w.View.Close(); err == nil {
			err = cerr
		}
	}()
	for first := true; ; first = false {
		st, err := w.Status(ctx)
		if ctx.Err() != nil {
			return errWatchInterrupted
		}
		if err != nil && first {
			return err
		}
		f := w.frame(ctx, st, err)
		if ctx.Err() != nil {
			return errWatchInterrupted
		}
		if err := w.View.Draw(f); err != nil {
			return err
		}
		if w.UntilStable && err == nil && stable(st) {
			return nil
		}
		if w.Sleep(ctx, w.Interval) != nil {
			return errWatchInterrupted
		}
	}
}

// stable is a rollout with nothing under way: one slot serves everything,
// as stored, ready, no lock held and nothing interrupted.
func stable(st *rollout.Status) bool {
	return st.Weights[st.Active] == 100 && !st.Drift && st.Lock == nil && st.Pending == nil &&
		st.Health[st.Active].Ready && (st.DataPlane == nil || st.DataPlane.Up)
}

// frame is what the view shows of a status (nil with statusErr when it
// could not be read this time) and the analysis so far.
func (w *watcher) frame(ctx context.Context, st *rollout.Status, statusErr error) live.Frame {
	f := live.Frame{Title: "rollout status", Env: w.Env, At: w.Now(), NextIn: w.Interval}
	if st != nil {
		f.Active, f.Weights = string(st.Active), map[string]int{}
		for _, s := range provider.Slots {
			h := st.Health[s]
			detail := h.Detail
			if h.Ready {
				detail = fmt.Sprintf("%.1fms", h.LatencyMS)
			}
			f.Weights[string(s)] = st.Weights[s]
			f.Slots = append(f.Slots, live.SlotRow{Name: string(s), Ready: h.Ready, Version: st.Versions[s], Detail: detail})
		}
		f.Step, f.Messages = underWay(st), notes(st)
	}
	if statusErr != nil {
		f.Messages = append(f.Messages, "status: "+statusErr.Error()+" (the last status read is shown)")
	}
	if w.Analyzer != nil {
		if msg := w.analyse(ctx); msg != "" {
			f.Messages = append(f.Messages, msg)
		}
		for _, k := range w.order {
			m := *w.series[k]
			m.Values = append([]float64(nil), m.Values...)
			f.Metrics = append(f.Metrics, m)
		}
	}
	return f
}

// analyse measures both slots once and adds a point to each series; a
// measurement without a value is a gap (no data), never a zero, and so is
// a series this poll did not measure.
func (w *watcher) analyse(ctx context.Context) (problem string) {
	for _, s := range provider.Slots {
		rep, err := w.Analyzer.Analyze(ctx, s)
		if err != nil {
			problem = "analysis: " + err.Error()
		}
		points := map[string]float64{}
		for _, m := range rep.Measurements {
			w.ensure(m, string(s))
			points[m.Name+"/"+string(s)] = m.Value
			if m.Verdict == analysis.Inconclusive {
				points[m.Name+"/"+string(s)] = math.NaN()
			}
		}
		for _, k := range w.order {
			if m := w.series[k]; m.Slot == string(s) {
				v, ok := points[k]
				if !ok {
					v = math.NaN()
				}
				if m.Values = append(m.Values, v); len(m.Values) > maxPoints {
					m.Values = m.Values[len(m.Values)-maxPoints:]
				}
			}
		}
	}
	return problem
}

// ensure is the series of measurement m of slot, created on first sight.
func (w *watcher) ensure(m analysis.Measurement, slot string) {
	if w.series == nil {
		w.series = map[string]*live.Metric{}
	}
	k := m.Name + "/" + slot
	if _, ok := w.series[k]; !ok {
		w.series[k] = &live.Metric{Name: strings.ReplaceAll(m.Name, "_", " "), Slot: slot, Unit: m.Unit}
		w.order = append(w.order, k)
	}
	w.series[k].Threshold = m.Threshold
}

// underWay is the change in progress: the lock holder's command, or the
// interrupted one the next rollout command repairs.
func underWay(st *rollout.Status) string {
	switch {
	case st.Lock != nil:
		return fmt.Sprintf("%s by %s (pid %d), since %s", st.Lock.Command, st.Lock.Actor, st.Lock.PID, st.Lock.Since.Format(time.TimeOnly))
	case st.Pending != nil:
		return fmt.Sprintf("interrupted: %s by %s; the next rollout command repairs it", st.Pending.Command, st.Pending.Actor)
	}
	return ""
}

// notes are what else an operator should see, the most pressing last.
func notes(st *rollout.Status) []string {
	out := []string{"last change " + lastChange(st.LastChange)}
	if st.Drift {
		out = append(out, "drift: the rollout state says "+st.Stored.String()+"; the next rollout command sets them again")
	}
	if dp := st.DataPlane; dp != nil && !dp.Up {
		out = append(out, "data plane down: "+dp.Detail+"; the weights are stored, not served; start it: "+dp.Start)
	}
	return out
}
