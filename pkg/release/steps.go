package release

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/deployctl/deployctl/pkg/analysis"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/rollout"
)

// A Step is one part of a release, in the shape of goreleaser's pipes: it
// has a name, says what it would do, does it, and knows how to undo it as
// far as that is safe. Its data lives in the release's Record, saved after
// every step, so that a resumed release has it.
type Step interface {
	Name() string
	// Plan says what Run would do, for --dry-run and the live view.
	Plan(r *Release) string
	// Run does the step and returns what it did, for people.
	Run(ctx context.Context, r *Release) (string, error)
	// Undo takes back what Run did, as far as it is safe; it says what it
	// did, or what the operator has to do.
	Undo(ctx context.Context, r *Release) (string, error)
}

// A Rechecker checks a step's precondition again before a resumed release
// runs it: the world may have moved while nobody was looking.
type Rechecker interface {
	Recheck(ctx context.Context, r *Release) error
}

// Release is a release being carried out: its record and its engines.
type Release struct {
	*Record
	Deps  *Deps
	Notef func(format string, a ...any)
	// Save writes the record now (steps call it after learning something
	// that must survive a kill, such as a backup's id).
	Save func(ctx context.Context) error
}

func (r *Release) notef(format string, a ...any) {
	if r.Notef != nil {
		r.Notef(format, a...)
	}
}

// Pipeline is the ordered steps of record r.
func Pipeline(r *Record) []Step {
	if r.Kind == KindRollback {
		return rollbackPipeline(r)
	}
	steps := []Step{checklistStep{}, backupStep{}, rehearseStep{}, evidenceStep{}, migrateStep{}, prepareStep{}}
	for _, w := range r.Weights {
		steps = append(steps, trafficStep{weight: w})
	}
	return append(steps, promoteStep{}, healthStep{})
}

func rollbackPipeline(r *Record) []Step {
	return []Step{prepareStep{}, trafficStep{weight: 100}, promoteStep{}, healthStep{}}
}

// Names are the names of steps, in order.
func Names(steps []Step) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.Name()
	}
	return out
}

// release-proven checklist items: the release takes a fresh backup and
// rehearses the migrations on it, so these are checked after those steps.
var provenByRelease = []string{"backups", "migrations"}

type checklistStep struct{}

func (checklistStep) Name() string { return "checklist" }
func (checklistStep) Plan(r *Release) string {
	if r.SkipChecklist {
		return "skipped (--skip-checklist, reason: " + r.Reason + ")"
	}
	return "run the production checklist except backups and migrations (checked after the backup and the rehearsal); waivers honoured; any fail stops the release"
}
func (checklistStep) Run(ctx context.Context, r *Release) (string, error) {
	if r.SkipChecklist {
		return "skipped: " + r.Reason, errSkipped
	}
	return gate(ctx, r, nil, provenByRelease)
}
func (checklistStep) Undo(context.Context, *Release) (string, error) { return "", nil }

func gate(ctx context.Context, r *Release, only, skip []string) (string, error) {
	failed, summary, err := r.Deps.Checklist.Gate(ctx, only, skip)
	if err != nil {
		return "", err
	}
	if len(failed) > 0 {
		return summary, fmt.Errorf("the checklist failed (%s): fix them and run `deployctl release resume`, or `deployctl release abort`", strings.Join(failed, ", "))
	}
	return summary, nil
}

type backupStep struct{}

func (backupStep) Name() string { return "backup" }
func (backupStep) Plan(r *Release) string {
	return "back up the database and verify the backup at level " + r.VerifyLevel
}
func (backupStep) Run(ctx context.Context, r *Release) (string, error) {
	id, err := r.Deps.Backups.Create(ctx, "release "+r.Name())
	if err != nil {
		return "", err
	}
	r.BackupID = id
	if err := r.Save(ctx); err != nil {
		return "", err
	}
	problems, err := r.Deps.Backups.Verify(ctx, id, r.VerifyLevel)
	if err != nil {
		return "backup " + id + " created, not verified", err
	}
	if len(problems) > 0 {
		return "backup " + id + " created", fmt.Errorf("backup %s failed its %s verification: %s", id, r.VerifyLevel, strings.Join(problems, "; "))
	}
	return fmt.Sprintf("backup %s created and verified (%s)", id, r.VerifyLevel), nil
}
func (backupStep) Undo(_ context.Context, r *Release) (string, error) {
	if r.BackupID == "" {
		return "", nil
	}
	return "backup " + r.BackupID + " is kept", nil
}

type rehearseStep struct{}

func (rehearseStep) Name() string { return "rehearse" }
func (rehearseStep) Plan(*Release) string {
	return "rehearse the pending migrations on a scratch copy restored from that backup"
}
func (rehearseStep) Run(ctx context.Context, r *Release) (string, error) {
	pending, err := r.Deps.Migrations.Pending(ctx)
	if err != nil {
		return "", err
	}
	if len(pending) == 0 {
		return "no pending migration", nil
	}
	if err := r.Deps.Migrations.Rehearse(ctx, r.BackupID); err != nil {
		return "", fmt.Errorf("the rehearsal of %s on backup %s failed: %w", versions(pending), r.BackupID, err)
	}
	return "rehearsed " + versions(pending) + " on backup " + r.BackupID, nil
}
func (rehearseStep) Undo(context.Context, *Release) (string, error) { return "", nil }

type evidenceStep struct{}

func (evidenceStep) Name() string { return "checklist-evidence" }
func (evidenceStep) Plan(r *Release) string {
	if r.SkipChecklist {
		return "skipped (--skip-checklist)"
	}
	return "check the checklist's backups and migrations items on the backup and rehearsal just made"
}
func (evidenceStep) Run(ctx context.Context, r *Release) (string, error) {
	if r.SkipChecklist {
		return "skipped: " + r.Reason, errSkipped
	}
	return gate(ctx, r, provenByRelease, nil)
}
func (evidenceStep) Undo(context.Context, *Release) (string, error) { return "", nil }

type migrateStep struct{}

func (migrateStep) Name() string         { return "migrate" }
func (migrateStep) Plan(*Release) string { return "apply the pending migrations (migrate up)" }
func (migrateStep) Run(ctx context.Context, r *Release) (string, error) {
	if r.MigrationBefore == nil {
		cur, err := r.Deps.Migrations.Current(ctx)
		if err != nil {
			return "", err
		}
		r.MigrationBefore = &cur
		if err := r.Save(ctx); err != nil {
			return "", err
		}
	}
	after, err := r.Deps.Migrations.Up(ctx)
	if err != nil {
		return "", err
	}
	r.MigrationAfter = &after
	if after == *r.MigrationBefore {
		return fmt.Sprintf("nothing to apply: version %d", after), nil
	}
	return fmt.Sprintf("migrated from version %d to %d", *r.MigrationBefore, after), nil
}
func (migrateStep) Undo(_ context.Context, r *Release) (string, error) {
	if r.MigrationBefore == nil {
		return "", nil
	}
	cur := *r.MigrationBefore
	if r.MigrationAfter != nil && *r.MigrationAfter == cur {
		return "", nil
	}
	msg := fmt.Sprintf("the migrations are NOT rolled back (a down can lose data); if the schema must go back, run `deployctl migrate down --to %d --env %s`", cur, r.Env)
	if r.BackupID != "" {
		msg += fmt.Sprintf(", or restore the backup taken before them: `deployctl backup restore %s --env %s --clean`", r.BackupID, r.Env)
	}
	return msg, nil
}

type prepareStep struct{}

func (prepareStep) Name() string { return "prepare" }
func (prepareStep) Plan(r *Release) string {
	switch {
	case r.Image != "":
		return fmt.Sprintf("deploy %s to the %s slot and wait until it is ready", r.Image, r.Slot)
	case r.SlotURL != "" && r.Kind == KindRollback:
		return fmt.Sprintf("point the %s slot at %s, where v%d ran, and wait until it is ready there with %s", r.Slot, r.SlotURL, r.RollbackOf, orUnknown(r.Version))
	case r.SlotURL != "":
		return fmt.Sprintf("point the %s slot at %s and wait until it is ready", r.Slot, r.SlotURL)
	}
	return fmt.Sprintf("check the %s slot (what it runs now) is ready", r.Slot)
}
func (prepareStep) Run(ctx context.Context, r *Release) (string, error) {
	if err := r.Deps.Slots.Prepare(ctx, r.Slot, r.Image, r.SlotURL); err != nil {
		return "", err
	}
	st, err := r.Deps.Slots.Status(ctx, r.Slot)
	if err != nil {
		return "", err
	}
	if !st.Ready {
		return "", fmt.Errorf("the %s slot is not ready (%s): nothing was shifted; fix it and run `deployctl release resume`, or `deployctl release abort`", r.Slot, st.Detail)
	}
	if r.Kind == KindRollback && r.Image == "" && st.Version != r.Version {
		if r.SlotURL != "" {
			return "", fmt.Errorf("the %s slot, now served from %s, runs %s, not %s of v%d: no traffic was moved; start that version at %s and run `deployctl release resume`, or `deployctl release abort`", r.Slot, r.SlotURL, orUnknown(st.Version), orUnknown(r.Version), r.RollbackOf, r.SlotURL)
		}
		return "", fmt.Errorf("the %s slot now runs %s, not %s of v%d; deploy that version there and retry", r.Slot, orUnknown(st.Version), orUnknown(r.Version), r.RollbackOf)
	}
	r.Version = st.Version
	if r.Version == "" {
		r.Version = r.Image
	}
	r.ServedFrom = servedFrom(ctx, r)
	return fmt.Sprintf("the %s slot is ready, version %s", r.Slot, orUnknown(r.Version)), nil
}
func (prepareStep) Undo(_ context.Context, r *Release) (string, error) {
	if r.Image == "" {
		return "", nil
	}
	return fmt.Sprintf("the %s slot keeps %s and serves no traffic", r.Slot, r.Image), nil
}

// servedFrom is the URL the data plane serves r's slot from, for a later
// rollback to point the slot back there; "" when the slots are not URLs,
// the URL cannot be read (the rollback then checks the slot's version
// only), or it carries credentials, which a record never holds.
func servedFrom(ctx context.Context, r *Release) string {
	urls, ok := r.Deps.Slots.(SlotURLs)
	if !ok {
		return ""
	}
	raw, err := urls.URL(ctx, r.Slot)
	if err != nil || raw == "" {
		return ""
	}
	if u, err := url.Parse(raw); err != nil || u.User != nil {
		return ""
	}
	return raw
}

type trafficStep struct{ weight int }

func (s trafficStep) Name() string { return "traffic-" + strconv.Itoa(s.weight) }
func (s trafficStep) Plan(r *Release) string {
	w := provider.Weights{r.Slot: s.weight, r.Active: 100 - s.weight}
	if r.Kind == KindRollback { // never judged, whatever the analysis section says
		return fmt.Sprintf("all traffic to %s at once: %s, no analysis: a rollback returns to a release that ran", r.Slot, w)
	}
	if r.Interval > 0 {
		return fmt.Sprintf("set %s, wait %s, judge the %s slot's error rate and P95 (a breach sends all traffic back to %s)", w, r.Interval, r.Slot, r.Active)
	}
	return fmt.Sprintf("set %s (no analysis: analysis.prometheus_url is not set)", w)
}
func (s trafficStep) Run(ctx context.Context, r *Release) (string, error) {
	rep, err := r.Deps.Traffic.Step(ctx, r.Slot, s.weight, r.Interval, r.Interval > 0)
	got, werr := r.Deps.Traffic.Weights(ctx)
	if werr == nil {
		r.Traffic = got
	}
	switch {
	case err == nil:
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return "", err // interrupted, not failed: the step stays running, resumable
	default:
		return trafficFailure(r.Record, s.weight, err, werr == nil), err
	}
	out := fmt.Sprintf("%s in effect (read back)", r.Traffic)
	if rep != nil {
		out += "; analysis " + string(rep.Report.Verdict)
	}
	return out, nil
}

// Recheck: the traffic must be where the release left it, or where this
// step was taking it when it was stopped.
func (s trafficStep) Recheck(ctx context.Context, r *Release) error {
	got, err := r.Deps.Traffic.Weights(ctx)
	if err != nil {
		return err
	}
	want := r.Traffic
	if want == nil {
		want = provider.Weights{r.Active: 100, r.Slot: 0}
	}
	target := provider.Weights{r.Slot: s.weight, r.Active: 100 - s.weight}
	if same(got, want) || same(got, target) {
		return nil
	}
	return fmt.Errorf("the traffic is %s, but %s left it at %s: someone changed it since; nothing was changed now — set it back (`deployctl rollout %s --weight %d`) and resume, or `deployctl release abort`",
		got, r.Name(), want, r.Slot, want[r.Slot])
}
func (s trafficStep) Undo(ctx context.Context, r *Release) (string, error) {
	got, err := r.Deps.Traffic.Weights(ctx)
	if err != nil {
		return "", err
	}
	if got[r.Active] == 100 {
		return "", nil
	}
	if err := r.Deps.Traffic.Abort(ctx); err != nil {
		return "", err
	}
	if got, err = r.Deps.Traffic.Weights(ctx); err != nil {
		return "", err
	}
	r.Traffic = got
	return fmt.Sprintf("all traffic back on %s: %s (read back)", r.Active, got), nil
}

type promoteStep struct{}

func (promoteStep) Name() string { return "promote" }
func (promoteStep) Plan(r *Release) string {
	return fmt.Sprintf("promote %s: it becomes the active slot, %s the standby", r.Slot, r.Active)
}
func (promoteStep) Run(ctx context.Context, r *Release) (string, error) {
	st, err := r.Deps.Traffic.State(ctx)
	if err != nil {
		return "", err
	}
	if st.Active != r.Slot {
		if err := r.Deps.Traffic.Promote(ctx); err != nil {
			return "", err
		}
	}
	if st, err = r.Deps.Traffic.State(ctx); err != nil {
		return "", err
	}
	if st.Active != r.Slot {
		return "", fmt.Errorf("after promote the active slot reads back as %s, not %s", st.Active, r.Slot)
	}
	got, err := r.Deps.Traffic.Weights(ctx)
	if err != nil {
		return "", err
	}
	r.Traffic = got
	return fmt.Sprintf("promoted: %s active, %s (read back)", r.Slot, got), nil
}
func (promoteStep) Undo(_ context.Context, r *Release) (string, error) {
	return "", fmt.Errorf("%s was promoted: abort does not undo a promotion; run `deployctl rollback` to return to the previous release", r.Name())
}

type healthStep struct{}

func (healthStep) Name() string { return "health" }
func (healthStep) Plan(r *Release) string {
	return fmt.Sprintf("check the %s slot's readiness and that it serves all traffic", r.Slot)
}
func (healthStep) Run(ctx context.Context, r *Release) (string, error) {
	st, err := r.Deps.Slots.Status(ctx, r.Slot)
	if err != nil {
		return "", err
	}
	if !st.Ready {
		return "", fmt.Errorf("after the release the %s slot is not ready (%s): run `deployctl rollback`", r.Slot, st.Detail)
	}
	got, err := r.Deps.Traffic.Weights(ctx)
	if err != nil {
		return "", err
	}
	if got[r.Slot] != 100 {
		return "", fmt.Errorf("after the release the traffic reads back as %s, not all on %s", got, r.Slot)
	}
	return fmt.Sprintf("%s ready (version %s), serving %s", r.Slot, orUnknown(st.Version), got), nil
}
func (healthStep) Undo(context.Context, *Release) (string, error) { return "", nil }

// errSkipped marks a step that did not run, on purpose.
var errSkipped = errors.New("skipped")

// breach reports whether err is an analysis that failed (traffic already back).
func breach(err error) (*rollout.GateError, bool) {
	var ge *rollout.GateError
	if errors.As(err, &ge) && ge.Verdict == analysis.Fail {
		return ge, true
	}
	return nil, false
}

func same(a, b provider.Weights) bool {
	return a[provider.Blue] == b[provider.Blue] && a[provider.Green] == b[provider.Green]
}

func versions(vs []int64) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = strconv.FormatInt(v, 10)
	}
	return strings.Join(s, ", ")
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
