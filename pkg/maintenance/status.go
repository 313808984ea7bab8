package maintenance

import (
	"context"
	"time"

	"github.com/deployctl/deployctl/pkg/maintenance/page"
	"github.com/deployctl/deployctl/pkg/timeutil"
)

// Status is `maintenance status`: the switch as the data plane holds it and
// the scheduled windows that are not over.
type Status struct {
	On        bool           `json:"on"`      // switched on
	Active    bool           `json:"active"`  // visitors get the page now
	Expired   bool           `json:"expired"` // on, but past until: visitors pass through again
	Message   string         `json:"message"`
	Since     *time.Time     `json:"since"`
	Until     *time.Time     `json:"until"`
	By        string         `json:"by"`
	Allow     []string       `json:"allow"`
	Remaining string         `json:"remaining,omitempty"`  // until the end, when active
	OverdueBy string         `json:"overdue_by,omitempty"` // past the end, when expired
	Windows   []WindowStatus `json:"windows"`
}

// Status reads the switch and the windows.
func (e *Engine) Status(ctx context.Context) (Status, error) {
	st, err := e.Switch.Maintenance(ctx)
	if err != nil {
		return Status{}, err
	}
	now := e.now()
	s := Status{On: st.On, Active: page.Active(st, now), Message: st.Message, By: st.By, Allow: st.Allow, Windows: []WindowStatus{}}
	if s.Allow == nil {
		s.Allow = []string{}
	}
	if st.On {
		s.Since, s.Until = timePtr(st.Since), timePtr(st.Until)
	}
	switch {
	case s.Active && s.Until != nil:
		s.Remaining = timeutil.FormatDuration(st.Until.Sub(now))
	case st.On && !s.Active:
		s.Expired = true
		s.OverdueBy = timeutil.FormatDuration(now.Sub(st.Until))
	}
	if e.State == nil {
		return s, nil
	}
	ws, _, err := e.loadWindows(ctx)
	if err != nil {
		return s, err
	}
	for _, w := range ws {
		if ww := w.status(now, st.On); ww.State != StateEnded {
			s.Windows = append(s.Windows, ww)
		}
	}
	return s, nil
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
