package dbindex

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/deployctl/deployctl/pkg/history"
	"github.com/deployctl/deployctl/pkg/lock"
	"github.com/deployctl/deployctl/pkg/postgres"
	"github.com/deployctl/deployctl/pkg/provider"
)

// What became of one index of a reindex.
const (
	StatusReindexed   = "reindexed"
	StatusSkipped     = "skipped"     // lock_timeout: another session held the table
	StatusFailed      = "failed"      // any other error
	StatusInterrupted = "interrupted" // Ctrl-C during its rebuild
	StatusNotRun      = "not-run"     // after an interruption
	StatusPlanned     = "planned"     // dry run
)

// Plan is what a reindex rebuilds: the bloated indexes from MinBloat on.
type Plan struct {
	MinBloat float64   `json:"min_bloat_percent"`
	Indexes  []Bloated `json:"indexes"`
	// Excluded are bloated indexes REINDEX CONCURRENTLY cannot rebuild
	// (those of exclusion constraints), with why.
	Excluded []Redundant `json:"excluded"`
}

// NewPlan picks from r the indexes whose bloat is minBloat percent or more.
func NewPlan(r *Report, minBloat float64) Plan {
	p := Plan{MinBloat: minBloat, Indexes: []Bloated{}, Excluded: []Redundant{}}
	for _, b := range r.Bloated {
		switch {
		case b.BloatPercent < minBloat:
		case b.exclusion:
			p.Excluded = append(p.Excluded, Redundant{Index: b.Index, CoveredBy: "exclusion constraint: REINDEX CONCURRENTLY cannot rebuild it; REINDEX INDEX (locking) in a maintenance window"})
		default:
			p.Indexes = append(p.Indexes, b)
		}
	}
	return p
}

// Session is another backend, as a blocked rebuild names it. Its query is
// left out (it may hold secrets): SELECT query FROM pg_stat_activity WHERE
// pid = PID shows it to whoever may see it.
type Session struct {
	PID         int32      `json:"pid"`
	User        string     `json:"user"`
	Application string     `json:"application_name"`
	Client      string     `json:"client_addr"`
	State       string     `json:"state"`
	XactStart   *time.Time `json:"xact_start"`
}

func (s Session) String() string {
	out := fmt.Sprintf("pid %d (user %s", s.PID, orNone(s.User))
	if s.Application != "" {
		out += ", application " + s.Application
	}
	if s.Client != "" {
		out += ", client " + s.Client
	}
	out += ", " + orNone(s.State)
	if s.XactStart != nil {
		out += ", transaction open since " + s.XactStart.UTC().Format(time.RFC3339)
	}
	return out + ")"
}

// Result is what became of one index.
type Result struct {
	Bloated
	Status         string    `json:"status"`
	SizeAfterBytes int64     `json:"size_after_bytes"`
	DurationMS     int64     `json:"duration_ms"`
	BlockedBy      []Session `json:"blocked_by"`
	Detail         string    `json:"detail,omitempty"`
	// Leftover is the invalid …_ccnew copy the failed rebuild left and
	// could not drop (dropped ones are not listed).
	Leftover string `json:"leftover,omitempty"`
}

// Outcome is a whole reindex.
type Outcome struct {
	Results  []Result `json:"results"`
	Analyzed []string `json:"analyzed"`
	Warnings []string `json:"warnings"`
}

// Event is progress for the operator.
type Event struct {
	Kind  string // start | progress | cleanup | analyze | done
	Index string // schema.index (schema.table for analyze)
	Phase string // pg_stat_progress_create_index.phase
	// Blocks and tuples done and total of the current phase.
	BlocksDone, BlocksTotal, TuplesDone, TuplesTotal int64
	Blockers                                         []Session
	Result                                           *Result // done
}

// Engine rebuilds bloated indexes as a changing command: under the
// environment's lock, recorded in the history, one at a time.
type Engine struct {
	Lock    *lock.Guard       // nil: no lock (engine tests only)
	History *history.Recorder // nil: nothing recorded
	Now     func() time.Time
	// LockTimeout bounds every lock wait of a rebuild (lock_timeout): a
	// rebuild that waits longer is skipped, naming the session it waited for.
	LockTimeout time.Duration
	// CleanupTimeout bounds the wait of dropping a failed rebuild's leftover.
	CleanupTimeout time.Duration
	Poll           time.Duration // how often progress is read; default 500ms
	Progress       func(Event)   // nil: quiet
}

// Reindex rebuilds the plan's indexes of the database at url with REINDEX
// INDEX CONCURRENTLY, then ANALYZEs their tables. An index whose rebuild
// times out waiting for a lock is skipped and the next one rebuilt; a
// cancelled ctx stops after dropping the interrupted rebuild's leftover.
// The error is non-nil when any index was not rebuilt.
func (e *Engine) Reindex(ctx context.Context, url string, p Plan) (*Outcome, error) {
	out := &Outcome{Results: []Result{}, Analyzed: []string{}, Warnings: []string{}}
	err := e.Lock.Do(ctx, "db reindex", func(ctx context.Context) error {
		err := e.run(ctx, url, p, out)
		e.History.Record(ctx, e.entry(p, out, err))
		return err
	})
	return out, err
}

func (e *Engine) run(ctx context.Context, url string, p Plan, out *Outcome) error {
	w, err := e.open(ctx, url)
	if err != nil {
		return err
	}
	defer w.close()
	for _, ix := range p.Indexes {
		if ctx.Err() != nil {
			out.Results = append(out.Results, Result{Bloated: ix, Status: StatusNotRun, BlockedBy: []Session{}})
			continue
		}
		r := e.one(ctx, w, ix)
		e.emit(Event{Kind: "done", Index: ix.Label(), Result: &r})
		out.Results = append(out.Results, r)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("reindex interrupted; tables not analyzed: %w", ctx.Err())
	}
	e.analyze(ctx, w, out)
	return verdict(out)
}

func verdict(out *Outcome) error {
	var not []string
	for _, r := range out.Results {
		if r.Status != StatusReindexed {
			not = append(not, fmt.Sprintf("%s %s", r.Label(), r.Status))
		}
	}
	if len(not) > 0 {
		return fmt.Errorf("%d of %d index(es) not rebuilt (%s): see each one's detail, then run again", len(not), len(out.Results), strings.Join(not, ", "))
	}
	return nil
}

// one rebuilds ix, and drops what a failed rebuild left behind.
func (e *Engine) one(ctx context.Context, w *worker, ix Bloated) Result {
	start := e.now()
	r := Result{Bloated: ix, BlockedBy: []Session{}}
	before, err := w.before(ctx, ix.Index)
	if err != nil {
		r.Status, r.Detail = StatusFailed, err.Error()
		return r
	}
	e.emit(Event{Kind: "start", Index: ix.Label()})
	stop := e.watch(w, ix.Label())
	err = w.execCancelable(ctx, "REINDEX INDEX CONCURRENTLY "+ix.Qualified())
	r.BlockedBy = stop()
	r.DurationMS = e.now().Sub(start).Milliseconds()
	if err == nil {
		r.Status = StatusReindexed
		r.SizeAfterBytes, err = w.size(ctx, ix.Index)
		if err != nil {
			r.Detail = "rebuilt; its new size could not be read: " + err.Error()
		}
		return r
	}
	e.classify(ctx, &r, err)
	e.cleanup(ctx, w, &r, before)
	return r
}

func (e *Engine) classify(ctx context.Context, r *Result, err error) {
	var pgErr *pgconn.PgError
	switch {
	case ctx.Err() != nil:
		r.Status, r.Detail = StatusInterrupted, "interrupted during its rebuild"
	case errors.As(err, &pgErr) && pgErr.Code == "55P03":
		r.Status, r.Detail = StatusSkipped, e.timeoutDetail(r.BlockedBy)
	default:
		r.Status, r.Detail = StatusFailed, err.Error()
	}
}

func (e *Engine) timeoutDetail(blockers []Session) string {
	if len(blockers) == 0 {
		return fmt.Sprintf("waited longer than lock_timeout %s for another session (it ended before it could be named); skipped", e.LockTimeout)
	}
	var who []string
	for _, s := range blockers {
		who = append(who, s.String())
	}
	return fmt.Sprintf("waited longer than lock_timeout %s for %s; skipped: run again when it is done (SELECT query FROM pg_stat_activity WHERE pid = %d shows what it runs)",
		e.LockTimeout, strings.Join(who, ", "), blockers[0].PID)
}

// cleanup drops the invalid …_ccnew/…_ccold indexes the failed rebuild of
// r left on its table (those that were not there before it).
func (e *Engine) cleanup(ctx context.Context, w *worker, r *Result, before map[uint32]bool) {
	left, err := w.leftovers(context.WithoutCancel(ctx), r.Index, before)
	if err != nil {
		r.Detail += "; could not look for its leftover: " + err.Error()
		return
	}
	for _, name := range left {
		e.emit(Event{Kind: "cleanup", Index: name})
		if err := w.drop(ctx, name, e.cleanupTimeout()); err != nil {
			r.Leftover = name
			r.Detail += fmt.Sprintf("; its leftover %s remains (%v): drop it with DROP INDEX CONCURRENTLY %s", name, err, name)
			continue
		}
		r.Detail += "; its leftover " + name + " was dropped"
	}
}

// analyze refreshes the statistics of every table an index was rebuilt on.
func (e *Engine) analyze(ctx context.Context, w *worker, out *Outcome) {
	seen := map[string]bool{}
	for _, r := range out.Results {
		t := r.QualifiedTable()
		if r.Status != StatusReindexed || seen[t] {
			continue
		}
		seen[t] = true
		e.emit(Event{Kind: "analyze", Index: r.Schema + "." + r.Table})
		if _, err := w.conn.Exec(ctx, "ANALYZE "+t); err != nil {
			out.Warnings = append(out.Warnings, fmt.Sprintf("ANALYZE %s: %v; run it by hand", t, err))
			continue
		}
		out.Analyzed = append(out.Analyzed, r.Schema+"."+r.Table)
	}
}

func (e *Engine) entry(p Plan, out *Outcome, err error) provider.Entry {
	type line struct {
		Index  string `json:"index"`
		Status string `json:"status"`
		Before int64  `json:"size_bytes"`
		After  int64  `json:"size_after_bytes"`
	}
	after := []line{}
	for _, r := range out.Results {
		after = append(after, line{r.Label(), r.Status, r.SizeBytes, r.SizeAfterBytes})
	}
	ent := provider.Entry{Command: "db reindex", Before: map[string]any{"min_bloat_percent": p.MinBloat, "indexes": len(p.Indexes)}, After: after, Result: history.Result(err)}
	if err != nil {
		ent.Detail = err.Error()
	}
	return ent
}

func (e *Engine) emit(ev Event) {
	if e.Progress != nil {
		e.Progress(ev)
	}
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Engine) cleanupTimeout() time.Duration {
	if e.CleanupTimeout > 0 {
		return e.CleanupTimeout
	}
	return time.Minute
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// connect is postgres.Connect: unreachable is exit 4, no password shown.
var connect = func(ctx context.Context, url string) (*pgx.Conn, error) { return postgres.Connect(ctx, url) }
