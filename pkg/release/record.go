package release

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
)

// StateKey is the releases' document in the environment's StateStore.
const StateKey = "releases"

// Format is the version of the releases document.
const Format = 1

// Keep is how many releases the document keeps; older ones are dropped
// from it (their history entries stay).
const Keep = 200

// Status is where a release stands.
type Status string

const (
	Running     Status = "running"     // a process is carrying it out (or was, until it was killed)
	Interrupted Status = "interrupted" // stopped by Ctrl-C or a signal, resumable
	Failed      Status = "failed"      // a step failed, resumable after a fix, or abortable
	Succeeded   Status = "succeeded"
	Aborted     Status = "aborted"
)

// Finished reports whether nothing more can happen to a release.
func (s Status) Finished() bool { return s == Succeeded || s == Aborted }

// StepStatus is where one step stands.
type StepStatus string

const (
	StepPending StepStatus = "pending"
	StepRunning StepStatus = "running"
	StepDone    StepStatus = "done"
	StepFailed  StepStatus = "failed"
	StepSkipped StepStatus = "skipped"
	StepUndone  StepStatus = "undone"
)

// StepResult is one step of a release as it went.
type StepResult struct {
	Name    string     `json:"name"`
	Status  StepStatus `json:"status"`
	Started *time.Time `json:"started,omitempty"`
	Ended   *time.Time `json:"ended,omitempty"`
	Detail  string     `json:"detail,omitempty"`
}

// Record is one numbered release of an environment.
type Record struct {
	Number  int    `json:"number"`
	Kind    string `json:"kind"` // release | rollback
	Env     string `json:"env"`
	Status  Status `json:"status"`
	Actor   string `json:"actor"`
	Reason  string `json:"reason,omitempty"`
	Command string `json:"command"`
	PID     int    `json:"pid,omitempty"`
	Host    string `json:"host,omitempty"`

	Image   string `json:"image,omitempty"`
	SlotURL string `json:"slot_url,omitempty"` // release --slot-url: where the slot is pointed
	// ServedFrom is the URL the slot served this release from once it was
	// ready (slots that are URLs, with or without --slot-url): where a
	// rollback to it points the slot back.
	ServedFrom string        `json:"served_from,omitempty"`
	Slot       provider.Slot `json:"slot"`   // the candidate: the slot this release puts in service
	Active     provider.Slot `json:"active"` // the slot that served before it
	Version    string        `json:"version,omitempty"`
	// Weights are the candidate's traffic steps; Interval the wait before
	// each step's analysis.
	Weights  []int         `json:"weights"`
	Interval time.Duration `json:"interval_ns"`
	// Traffic is the weights the release last saw in effect, read back.
	Traffic provider.Weights `json:"traffic,omitempty"`

	SkipChecklist bool   `json:"skip_checklist,omitempty"`
	VerifyLevel   string `json:"verify_level,omitempty"` // restore | checksum
	BackupID      string `json:"backup_id,omitempty"`

	MigrationBefore *int64 `json:"migration_before,omitempty"`
	MigrationAfter  *int64 `json:"migration_after,omitempty"`
	// RollbackOf is the release a rollback returns to.
	RollbackOf int `json:"rollback_of,omitempty"`

	Steps   []StepResult `json:"steps"`
	Current int          `json:"current"` // index of the step running or next to run
	Error   string       `json:"error,omitempty"`

	Started time.Time  `json:"started"`
	Ended   *time.Time `json:"ended,omitempty"`
	// Notifications are the deliveries that failed, for people.
	Notifications []string `json:"notifications,omitempty"`
}

// Name is the release's name, v42.
func (r *Record) Name() string { return "v" + strconv.Itoa(r.Number) }

// step returns the result of the step called name.
func (r *Record) step(name string) *StepResult {
	for i := range r.Steps {
		if r.Steps[i].Name == name {
			return &r.Steps[i]
		}
	}
	return nil
}

// ParseName reads v42 (or 42) as 42.
func ParseName(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimPrefix(s, "v"), "V"))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a release: give one such as v42 (deployctl releases lists them)", s)
	}
	return n, nil
}

// doc is the releases document: the next number and the kept releases,
// oldest first.
type doc struct {
	Format   int      `json:"format"`
	Next     int      `json:"next"`
	Releases []Record `json:"releases"`
}

// ErrNoRelease is an environment with no release yet, or no such release.
var ErrNoRelease = errors.New("no such release")

func load(ctx context.Context, st provider.StateStore) (doc, string, error) {
	data, version, err := st.Load(ctx, StateKey)
	if errors.Is(err, provider.ErrNotFound) {
		return doc{Format: Format, Next: 1}, "", nil
	}
	if err != nil {
		return doc{}, "", fmt.Errorf("load the releases: %w", err)
	}
	var d doc
	if err := json.Unmarshal(data, &d); err != nil {
		return doc{}, "", fmt.Errorf("the releases document (state key %q) is malformed (%v); nothing was changed: fix it from its history, or move it away to start numbering again", StateKey, err)
	}
	if err := d.check(); err != nil {
		return doc{}, "", fmt.Errorf("the releases document (state key %q) is inconsistent: %v; nothing was changed", StateKey, err)
	}
	return d, version, nil
}

func (d *doc) check() error {
	if d.Format > Format {
		return fmt.Errorf("format %d is newer than this deployctl understands (%d): upgrade deployctl", d.Format, Format)
	}
	last := 0
	for _, r := range d.Releases {
		if r.Number <= last {
			return fmt.Errorf("release numbers out of order at v%d", r.Number)
		}
		last = r.Number
		if r.Current < 0 || r.Current > len(r.Steps) {
			return fmt.Errorf("v%d: current step %d of %d", r.Number, r.Current, len(r.Steps))
		}
	}
	if d.Next <= last {
		return fmt.Errorf("next number %d is not above the newest release v%d", d.Next, last)
	}
	return nil
}

func save(ctx context.Context, st provider.StateStore, d doc, version string) (string, error) {
	d.Format = Format
	if n := len(d.Releases); n > Keep {
		d.Releases = append([]Record(nil), d.Releases[n-Keep:]...)
	}
	data, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return "", err
	}
	data = append(data, '\n')
	if err := st.Save(ctx, StateKey, data, version); err != nil {
		return "", fmt.Errorf("save the releases: %w", err)
	}
	_, v, err := st.Load(ctx, StateKey)
	return v, err
}

// latest is the newest release, nil when there is none.
func (d *doc) latest() *Record {
	if len(d.Releases) == 0 {
		return nil
	}
	return &d.Releases[len(d.Releases)-1]
}

// find returns release n.
func (d *doc) find(n int) (*Record, error) {
	for i := range d.Releases {
		if d.Releases[i].Number == n {
			return &d.Releases[i], nil
		}
	}
	return nil, fmt.Errorf("v%d: %w (deployctl releases lists them)", n, ErrNoRelease)
}
