package backup

import (
	"context"
	"strings"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/pkg/notify"
	"github.com/deployctl/deployctl/pkg/provider"
)

// notifyVerifyFailed sends backup.verify_failed to the notify: targets and,
// when any took it, records the deliveries in the history. A delivery that
// fails is a warning; verify's own exit status is unchanged.
func notifyVerifyFailed(ctx context.Context, f *app.Factory, rep *VerifyReport) {
	ev := notify.Event{Kind: notify.BackupVerifyFailed, Actor: f.Actor(), Fields: map[string]string{}}
	ev.Summary = "backup verify failed: " + strings.Join(rep.Problems, "; ")
	if rep.ID != "" {
		ev.Fields["backup"] = rep.ID
	}
	if rep.Verification != nil {
		ev.Fields["level"] = rep.Verification.Level
	}
	ds := f.Notifier().Notify(ctx, ev)
	if len(ds) == 0 {
		return
	}
	f.Recorder().Record(ctx, provider.Entry{
		Command: "backup verify", Result: "failed", Detail: strings.Join(rep.Problems, "; "),
		After: struct {
			ID            string            `json:"id,omitempty"`
			Notifications []notify.Delivery `json:"notifications"`
		}{rep.ID, ds},
	})
}
