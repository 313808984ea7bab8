package release

import (
	"context"
	"fmt"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/pkg/notify"
	"github.com/deployctl/deployctl/pkg/release"
)

// notifier sends the release's events to the environment's notify: targets
// and returns the deliveries that failed (the engine records them on the
// release); a failed delivery is also a warning, never an error.
func notifier(f *app.Factory) release.Notifier {
	return func(ctx context.Context, kind, summary string, fields map[string]string) []string {
		ds := f.Notifier().Notify(ctx, notify.Event{Kind: notify.Kind(kind), Actor: f.Actor(), Summary: summary, Fields: fields})
		var failed []string
		for _, d := range ds {
			if d.OK {
				continue
			}
			why := d.Err
			if d.Status != 0 {
				why = fmt.Sprintf("status %d %s", d.Status, d.Err)
			}
			failed = append(failed, d.Target+": "+why)
		}
		return failed
	}
}
