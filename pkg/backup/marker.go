package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deployctl/deployctl/pkg/postgres"
	"github.com/deployctl/deployctl/pkg/provider"
)

// A restore marks its target while it runs: a one-row table MarkerTable,
// created before pg_restore starts and dropped when the restore is done,
// and a history entry with result "started". A restore that never
// finished (deployctl killed, pg_restore failed, Ctrl-C) leaves both: the
// next restore into that target refuses without --clean and says who left
// it, and `backup list` says so from the history.

// MarkerTable is the table that marks a target as being restored.
const MarkerTable = "deployctl_restore_in_progress"

// ResultStarted is the result of the history entry a restore writes when
// it starts; the entry that ends it follows with the same restore id.
const ResultStarted = "started"

// ErrHalfRestored refuses a target that a restore left unfinished.
var ErrHalfRestored = errors.New("half-restored")

// Marker is the row of MarkerTable: which restore left the target.
type Marker struct {
	RestoreID string    `json:"restore_id"`
	Backup    string    `json:"backup"`
	Actor     string    `json:"actor"`
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	Started   time.Time `json:"started"`
}

// HalfRestoredError says which restore left a target half-done.
type HalfRestoredError struct {
	Target string // redacted
	Actor  string
	At     time.Time
	Backup string
}

func (e *HalfRestoredError) Error() string {
	return HalfRestoredMessage(e.Target, e.Actor, e.At, e.Backup) + "; re-run with --clean"
}

func (e *HalfRestoredError) Unwrap() error { return ErrHalfRestored }

// HalfRestoredMessage is how the restore and `backup list` name a target
// left by an unfinished restore.
func HalfRestoredMessage(target, actor string, at time.Time, backup string) string {
	return fmt.Sprintf("target %s was left half-restored by %s at %s (restore of backup %s did not finish)",
		target, or(actor, "unknown"), at.UTC().Format(time.RFC3339), backup)
}

var markerName = pgx.Identifier{"public", MarkerTable}.Sanitize()

// readMarker returns the marker of the database on conn, or nil.
func readMarker(ctx context.Context, conn *pgx.Conn) (*Marker, error) {
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", markerName).Scan(&exists); err != nil || !exists {
		return nil, err
	}
	var m Marker
	err := conn.QueryRow(ctx, "SELECT restore_id, backup, actor, host, pid, started FROM "+markerName+" LIMIT 1").
		Scan(&m.RestoreID, &m.Backup, &m.Actor, &m.Host, &m.PID, &m.Started)
	if errors.Is(err, pgx.ErrNoRows) {
		return &Marker{Actor: "unknown"}, nil // a marker table without its row
	}
	if err != nil {
		return nil, fmt.Errorf("read the restore marker %s: %w", markerName, err)
	}
	return &m, nil
}

func writeMarker(ctx context.Context, url string, m Marker) error {
	conn, err := postgres.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "DROP TABLE IF EXISTS "+markerName+"; CREATE TABLE "+markerName+
		" (restore_id text, backup text, actor text, host text, pid int, started timestamptz)")
	if err == nil {
		_, err = conn.Exec(ctx, "INSERT INTO "+markerName+" VALUES ($1, $2, $3, $4, $5, $6)", m.RestoreID, m.Backup, m.Actor, m.Host, m.PID, m.Started)
	}
	if err != nil {
		return fmt.Errorf("mark the target as being restored (%s): %w", markerName, err)
	}
	return nil
}

func dropMarker(ctx context.Context, url string) error {
	conn, err := postgres.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS "+markerName); err != nil {
		return fmt.Errorf("remove the restore marker %s: %w", markerName, err)
	}
	return nil
}

// endSessions terminates the sessions on the database of conn that the
// restore m left (its pg_restore and workers, should any have survived
// deployctl): the backstop of the supervisor.
func endSessions(ctx context.Context, conn *pgx.Conn, m *Marker) (int, error) {
	if m.RestoreID == "" {
		return 0, nil
	}
	var n int
	err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1 AND pid <> pg_backend_pid()`, AppRestore+m.RestoreID).Scan(&n)
	return n, err
}

// CheckTarget refuses a target a restore cannot go into: one left
// half-restored (HalfRestoredError, unless clean) or one that holds objects
// (ErrTargetNotEmpty, unless clean).
func CheckTarget(ctx context.Context, url string, clean bool) error {
	conn, err := postgres.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = checkTarget(ctx, conn, url, clean)
	return err
}

func checkTarget(ctx context.Context, conn *pgx.Conn, url string, clean bool) (*Marker, error) {
	mk, err := readMarker(ctx, conn)
	if err != nil {
		return nil, err
	}
	if mk != nil && !clean {
		return mk, &HalfRestoredError{Target: postgres.Redact(url), Actor: mk.Actor, At: mk.Started, Backup: mk.Backup}
	}
	var n int64
	if err := conn.QueryRow(ctx, userObjects).Scan(&n); err != nil {
		return mk, err
	}
	if n > 0 && !clean {
		return mk, fmt.Errorf("%w (%d tables, sequences, views or functions in %s): pass --clean to replace the backup's objects, or restore into an empty database with --target-url",
			ErrTargetNotEmpty, n, postgres.Redact(url))
	}
	return mk, nil
}

// HalfRestored is a target whose newest restore in the history did not
// finish.
type HalfRestored struct {
	Target string    `json:"target"`
	Actor  string    `json:"actor"`
	At     time.Time `json:"at"`
	Backup string    `json:"backup"`
}

func (h HalfRestored) String() string {
	return HalfRestoredMessage(h.Target, h.Actor, h.At, h.Backup) + "; re-run the restore with --clean"
}

// FindHalfRestored reads the history for targets whose newest restore
// started and never ended, or ended with the target partly restored.
func FindHalfRestored(ctx context.Context, log provider.HistoryLog) ([]HalfRestored, error) {
	ents, err := log.List(ctx, provider.Filter{Command: "backup restore"})
	if err != nil {
		return nil, err
	}
	newest := map[string]provider.Entry{}
	reports := map[string]RestoreReport{}
	for _, e := range ents { // oldest first
		raw, err := json.Marshal(e.After)
		if err != nil {
			continue
		}
		var rep RestoreReport
		if json.Unmarshal(raw, &rep) != nil || rep.Target == "" || rep.DryRun {
			continue
		}
		newest[rep.Target], reports[rep.Target] = e, rep
	}
	var out []HalfRestored
	for target, e := range newest {
		if rep := reports[target]; e.Result == ResultStarted || rep.Partial {
			out = append(out, HalfRestored{Target: target, Actor: e.Actor, At: e.Time, Backup: rep.ID})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Target < out[j].Target })
	return out, nil
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}
