// Package notify delivers events (a release failed, a backup did not
// verify, maintenance switched on) to the targets an environment configures:
// signed JSON webhooks, Slack incoming webhooks and email. Delivery never
// fails the command that sends the event: each target's outcome is returned
// as a Delivery for the caller to record in its history entry.
package notify

import (
	"context"
	"time"
)

// Kind names an event. The values are the names used in the `events:` list
// of a target in the environment file.
type Kind string

// The events deployctl sends.
const (
	ReleaseStarted     Kind = "release.started"
	ReleaseSucceeded   Kind = "release.succeeded"
	ReleaseFailed      Kind = "release.failed"
	ReleaseAborted     Kind = "release.aborted"
	StepBreached       Kind = "release.step_breached"
	BackupVerifyFailed Kind = "backup.verify_failed"
	MaintenanceOn      Kind = "maintenance.on"
	MaintenanceOff     Kind = "maintenance.off"
)

// Kinds lists every event, in the order documented.
func Kinds() []Kind {
	return []Kind{
		ReleaseStarted, ReleaseSucceeded, ReleaseFailed, ReleaseAborted, StepBreached,
		BackupVerifyFailed, MaintenanceOn, MaintenanceOff,
	}
}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool {
	for _, v := range Kinds() {
		if k == v {
			return true
		}
	}
	return false
}

// Event is one thing that happened. It is sent as JSON to webhook targets.
type Event struct {
	Kind    Kind              `json:"kind"`
	Env     string            `json:"env"`
	Time    time.Time         `json:"time"`
	Actor   string            `json:"actor,omitempty"`
	Summary string            `json:"summary"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// Delivery is the outcome of sending one event to one target. Target is the
// target's name; Err never contains the target's URL or secret.
type Delivery struct {
	Target   string        `json:"target"`
	Kind     Kind          `json:"kind"`
	OK       bool          `json:"ok"`
	Status   int           `json:"status,omitempty"`
	Err      string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// Notifier sends events. Notify never returns an error and never panics: a
// target that fails is reported in its Delivery (and warned about by the
// Notifier's warning writer, if it has one).
type Notifier interface {
	Notify(ctx context.Context, e Event) []Delivery
}

type nop struct{}

func (nop) Notify(context.Context, Event) []Delivery { return nil }

// Nop returns a Notifier that sends nothing (no targets configured).
func Nop() Notifier { return nop{} }
