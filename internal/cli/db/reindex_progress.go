package db

import (
	"fmt"

	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/dbindex"
)

// progress shows a reindex on stderr: a line per index and step, and on a
// terminal the phase of the rebuild under way, redrawn in place.
type progress struct {
	io   *ui.IOStreams
	open bool // a redrawn line is on screen
}

func newProgress(io *ui.IOStreams) *progress { return &progress{io: io} }

func (p *progress) event(ev dbindex.Event) {
	switch ev.Kind {
	case "start":
		p.line("rebuilding %s …", ev.Index)
	case "progress":
		if p.io.StderrTTY {
			fmt.Fprintf(p.io.ErrOut, "\r\033[K  %s: %s", ev.Index, phase(ev))
			p.open = true
		}
	case "cleanup":
		p.line("dropping %s, the invalid copy the rebuild left (Ctrl-C again leaves it: then run DROP INDEX CONCURRENTLY %s)", ev.Index, ev.Index)
	case "analyze":
		p.line("ANALYZE %s", ev.Index)
	case "done":
		r := ev.Result
		msg := fmt.Sprintf("%s: %s in %.1fs", ev.Index, r.Status, float64(r.DurationMS)/1000)
		if r.Status == dbindex.StatusReindexed {
			msg += fmt.Sprintf(", %s → %s", ui.HumanBytes(r.SizeBytes), ui.HumanBytes(r.SizeAfterBytes))
		} else if r.Detail != "" {
			msg += ": " + r.Detail
		}
		p.line("%s", msg)
	}
}

func (p *progress) line(format string, a ...any) {
	if p.open {
		fmt.Fprint(p.io.ErrOut, "\r\033[K")
		p.open = false
	}
	p.io.Printf(format+"\n", a...)
}

// phase is pg_stat_progress_create_index's phase with its blocks or tuples
// done, and the session it waits for.
func phase(ev dbindex.Event) string {
	s := ev.Phase
	switch {
	case ev.BlocksTotal > 0:
		s += fmt.Sprintf(" %d%% (%d/%d blocks)", ev.BlocksDone*100/ev.BlocksTotal, ev.BlocksDone, ev.BlocksTotal)
	case ev.TuplesTotal > 0:
		s += fmt.Sprintf(" %d%% (%d/%d tuples)", ev.TuplesDone*100/ev.TuplesTotal, ev.TuplesDone, ev.TuplesTotal)
	}
	if len(ev.Blockers) > 0 {
		s += ", waiting for " + ev.Blockers[0].String()
	}
	return s
}
