package release

import (
	"context"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/rollout"
)

// The engines a release drives, each seen through the small part it needs.
// internal/cli/release builds them on the environment's providers; tests
// build them on the local provider or on fakes. No step reimplements them.

// Checklist runs the production checklist.
type Checklist interface {
	// Gate runs the checks (only those named, when only is not empty;
	// never those in skip) and returns the ids that failed, and a one-line
	// summary. Waivers are the checklist's own.
	Gate(ctx context.Context, only, skip []string) (failed []string, summary string, err error)
}

// Backups creates and verifies backups.
type Backups interface {
	Create(ctx context.Context, label string) (id string, err error)
	// Verify proves backup id at level (restore | checksum); problems are
	// what is wrong with the backup itself.
	Verify(ctx context.Context, id, level string) (problems []string, err error)
}

// Migrations plans, rehearses and applies the schema migrations.
type Migrations interface {
	Current(ctx context.Context) (int64, error)
	// Pending is the versions up would apply, in order.
	Pending(ctx context.Context) ([]int64, error)
	// Rehearse applies the pending migrations to a scratch copy restored
	// from backup id, and fails when they do not apply cleanly there.
	Rehearse(ctx context.Context, backupID string) error
	// Up applies them and returns the version reached.
	Up(ctx context.Context) (int64, error)
}

// Slots puts a version on a slot and reports what a slot runs.
type Slots interface {
	// Prepare deploys image (or points the slot at url) and returns once
	// the slot is ready on it; both empty: the slot runs what it runs.
	Prepare(ctx context.Context, slot provider.Slot, image, url string) error
	Status(ctx context.Context, slot provider.Slot) (provider.SlotStatus, error)
}

// SlotURLs is the optional ability of Slots whose slots are URLs (the
// local proxy, `release --slot-url`): a rollback to a release that pointed
// its slot at a URL points the slot back there, after checking that URL.
type SlotURLs interface {
	// URL is the URL the data plane sends slot's traffic to now; "": the
	// provider's slots are not URLs.
	URL(ctx context.Context, slot provider.Slot) (string, error)
	// Probe checks readiness at url as Status would once slot is served
	// from there, without pointing it there.
	Probe(ctx context.Context, slot provider.Slot, url string) (provider.SlotStatus, error)
}

// Traffic moves traffic between the slots through the rollout engine.
type Traffic interface {
	State(ctx context.Context) (rollout.State, error)
	// Weights are the weights the data plane serves, read back.
	Weights(ctx context.Context) (provider.Weights, error)
	// Step gives slot weight percent, waits interval and judges it by the
	// analysis (interval 0: no analysis); a breach comes back as a
	// *rollout.GateError, the traffic already back on the active slot.
	Step(ctx context.Context, slot provider.Slot, weight int, interval time.Duration, analyse bool) (*rollout.StepReport, error)
	Promote(ctx context.Context) error
	// Abort sends all traffic back to the active slot at once.
	Abort(ctx context.Context) error
}

// Deps are a release's engines.
type Deps struct {
	Checklist  Checklist
	Backups    Backups
	Migrations Migrations
	Slots      Slots
	Traffic    Traffic
}
