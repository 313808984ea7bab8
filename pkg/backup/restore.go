package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/deployctl/deployctl/pkg/history"
	"github.com/deployctl/deployctl/pkg/postgres"
	"github.com/deployctl/deployctl/pkg/provider"
)

// RestoreOptions says where and how to restore.
type RestoreOptions struct {
	TargetURL  string
	Clean      bool // drop the backup's objects in the target first
	Jobs       int  // pg_restore -j; 0: the number of cores
	KeepOwners bool // keep owners and privileges (the roles must exist)
	Identities []age.Identity
	TempDir    string // for the decoded archive (pg_restore -j needs a file)
}

// RestoreResult is the outcome of a restore.
type RestoreResult struct {
	Manifest *Manifest `json:"-"`
	Target   string    `json:"target"` // redacted
	Problems []string  `json:"problems"`
	// Warnings are what the restore could not carry over but did not fail
	// for: database settings of roles missing on the target, say.
	Warnings []string      `json:"warnings,omitempty"`
	Duration time.Duration `json:"-"`
}

// ErrTargetNotEmpty refuses to restore over existing objects without Clean.
var ErrTargetNotEmpty = errors.New("the target database is not empty")

// userObjects counts relations and functions outside the system schemas.
const userObjects = `
SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%')
     + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%')`

// TargetObjects returns how many user objects the target database holds.
func TargetObjects(ctx context.Context, url string) (int64, error) {
	conn, err := postgres.Connect(ctx, url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	var n int64
	err = conn.QueryRow(ctx, userObjects).Scan(&n)
	return n, err
}

// Restore restores m into o.TargetURL: the manifest's own checksum is
// checked, the dump is decoded to a private temporary file (its sha256
// checked before the target is touched), then the target is marked
// (MarkerTable, and a history entry "started"), pg_restore -j loads it,
// the row counts are compared with the manifest, the database's settings
// replayed and the marker removed.
//
// It runs under the environment's lock, and its outcome is recorded in the
// history, failed or not.
func (e *Engine) Restore(ctx context.Context, m *Manifest, o RestoreOptions) (*RestoreResult, error) {
	var res *RestoreResult
	err := e.Lock.Do(ctx, "backup restore", func(ctx context.Context) error {
		release, err := e.lease(ctx, m.ID, "backup restore")
		if err != nil {
			return err
		}
		defer release()
		r := &restoreRun{m: m, o: o, rep: RestoreReport{ID: m.ID, Target: postgres.Redact(o.TargetURL), RestoreID: NewID(e.now()), Problems: []string{}}}
		res, err = e.restore(ctx, r)
		e.History.Record(ctx, r.entry(res, err))
		return err
	})
	return res, err
}

// RestoreReport is a restore as `backup restore -o json` and the history
// show it.
type RestoreReport struct {
	ID         string   `json:"id"`
	Target     string   `json:"target"`
	OK         bool     `json:"ok"`
	DryRun     bool     `json:"dry_run,omitempty"`
	DurationMS int64    `json:"duration_ms"`
	Problems   []string `json:"problems"`
	Warnings   []string `json:"warnings,omitempty"`
	// RestoreID names one run of restore: its start and end entries in the
	// history, its marker on the target, its sessions (AppRestore+id).
	RestoreID string `json:"restore_id,omitempty"`
	// Partial is a restore that changed the target and did not finish: the
	// target is half-restored.
	Partial bool `json:"partial,omitempty"`
}

// restoreRun is one restore in progress.
type restoreRun struct {
	m       *Manifest
	o       RestoreOptions
	rep     RestoreReport
	started bool // the target is marked: from here on it may be half-restored
}

func (r *restoreRun) entry(res *RestoreResult, err error) provider.Entry {
	rep := r.rep
	rep.Partial = r.started && err != nil
	ent := provider.Entry{Command: "backup restore", After: &rep, Result: history.Result(err)}
	if err != nil {
		ent.Detail = err.Error()
		return ent
	}
	rep.Problems, rep.Warnings, rep.OK, rep.DurationMS = res.Problems, res.Warnings, len(res.Problems) == 0, res.Duration.Milliseconds()
	if !rep.OK {
		ent.Result = "failed"
	}
	return ent
}

func (e *Engine) actor() string {
	if e.History != nil && e.History.Actor != "" {
		return e.History.Actor
	}
	return "unknown"
}

func (e *Engine) restore(ctx context.Context, r *restoreRun) (*RestoreResult, error) {
	m, o := r.m, r.o
	start := e.now()
	res := &RestoreResult{Manifest: m, Target: r.rep.Target, Problems: []string{}}
	if m.Kind() == TypeBase {
		return nil, fmt.Errorf("backup %s is a base backup: restore it with 'deployctl backup restore --type base %s --to-latest --data-dir DIR' (or a --to-time/--to-lsn target)", m.ID, m.ID)
	}
	if err := CheckManifest(m); err != nil {
		return nil, fmt.Errorf("%w: refusing to restore backup %s; restore another backup ('deployctl backup list')", err, m.ID)
	}
	checksClient, err := e.prepareTarget(ctx, o)
	if err != nil {
		return nil, err
	}
	file, err := e.decodeToFile(ctx, m, o)
	if file != "" {
		defer os.Remove(file)
	}
	if err != nil {
		return nil, err
	}
	mk := Marker{RestoreID: r.rep.RestoreID, Backup: m.ID, Actor: e.actor(), Host: hostname(), PID: os.Getpid(), Started: e.now()}
	if err := writeMarker(ctx, o.TargetURL, mk); err != nil {
		return nil, err
	}
	r.started = true
	e.History.Record(ctx, provider.Entry{Command: "backup restore", Time: mk.Started, After: r.rep, Result: ResultStarted,
		Detail: "restoring; a target left like this is half-restored"})
	if err := e.pgRestore(ctx, file, o, r.rep.RestoreID, checksClient); err != nil {
		return nil, err
	}
	var ps problems
	counting := e.meter(fmt.Sprintf("restore: counting the rows of %d tables", len(m.Tables)), -1)
	err = compareCounts(ctx, o.TargetURL, m)
	counting.Done()
	if errors.As(err, &ps) {
		res.Problems = ps
	} else if err != nil {
		return nil, err
	}
	if res.Warnings, err = replayOn(ctx, o.TargetURL, m.Settings); err != nil {
		return nil, fmt.Errorf("restore the database's settings and comment on %s: %w", res.Target, err)
	}
	if err := dropMarker(context.WithoutCancel(ctx), o.TargetURL); err != nil {
		return nil, err
	}
	res.Duration = e.now().Sub(start)
	return res, nil
}

// prepareTarget refuses a target that is not empty or was left
// half-restored (unless --clean), or that another restore is writing
// right now, and ends the sessions of the restore that left it, should any
// have outlived it. It reports whether the server ends the statements of
// sessions whose client is gone (client_connection_check_interval, 14+).
func (e *Engine) prepareTarget(ctx context.Context, o RestoreOptions) (checksClient bool, err error) {
	conn, err := postgres.Connect(ctx, o.TargetURL)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.Background())
	var version int
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		return false, err
	}
	mk, err := checkTarget(ctx, conn, o.TargetURL, o.Clean)
	if mk != nil && mk.Host == hostname() && mk.PID > 0 && mk.PID != os.Getpid() && alive(mk.PID) {
		return false, fmt.Errorf("%s is being restored right now by %s (pid %d on %s, backup %s, since %s): wait for that restore to end",
			postgres.Redact(o.TargetURL), mk.Actor, mk.PID, mk.Host, mk.Backup, mk.Started.UTC().Format(time.RFC3339))
	}
	if mk != nil {
		if _, terr := endSessions(ctx, conn, mk); terr != nil && err == nil {
			err = fmt.Errorf("end the sessions of the unfinished restore %s: %w", mk.RestoreID, terr)
		}
	}
	return version >= 140000, err
}

// decodeToFile writes the decoded archive to a 0600 temporary file and
// checks the stored bytes against the manifest.
func (e *Engine) decodeToFile(ctx context.Context, m *Manifest, o RestoreOptions) (string, error) {
	removeStaleTemps(o.TempDir)
	f, err := os.CreateTemp(o.TempDir, fmt.Sprintf("%s%d-*.dump", tempPrefix, os.Getpid()))
	if err != nil {
		return "", err
	}
	defer f.Close()
	err = e.decodeFrom(ctx, e.Store, f, m, o)
	var pe *ProblemError
	if cr, ok := e.Store.(copyReader); ok && errors.As(err, &pe) {
		// corrupt where it was read first: the next copy that checks out
		for i, name := range cr.CopyNames() {
			if _, serr := f.Seek(0, io.SeekStart); serr != nil || f.Truncate(0) != nil {
				break
			}
			if cerr := e.decodeFrom(ctx, oneCopy{cr, i}, f, m, o); cerr == nil {
				if e.Notef != nil {
					e.Notef("backup %s: %v; restoring the copy in %s, which matches the manifest", m.ID, err, name)
				}
				err = nil
				break
			}
		}
	}
	if err != nil {
		return f.Name(), err
	}
	return f.Name(), f.Close()
}

// decodeFrom writes m's decoded dump from store to f and checks the stored
// bytes against the manifest.
func (e *Engine) decodeFrom(ctx context.Context, store provider.BackupStore, f *os.File, m *Manifest, o RestoreOptions) error {
	meter := e.meter("download "+m.ID, m.SizeBytes)
	defer meter.Done()
	d, err := openDump(ctx, store, m, o.Identities, meter, true)
	if err != nil {
		return err
	}
	_, copyErr := copyCtx(ctx, f, d)
	if err := d.finish(); err != nil {
		return err // the checksum names the cause best
	}
	return copyErr
}

// copyReader is a store that keeps copies of every object in several
// stores (pkg/provider/copies).
type copyReader interface {
	CopyNames() []string
	GetFrom(ctx context.Context, i int, name string) (io.ReadCloser, error)
}

// oneCopy reads one copy of a copyReader.
type oneCopy struct {
	cr copyReader
	i  int
}

func (c oneCopy) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	return c.cr.GetFrom(ctx, c.i, name)
}
func (oneCopy) Put(context.Context, string, io.Reader) error { return errReadOnlyCopy }
func (oneCopy) List(context.Context, string) ([]provider.Object, error) {
	return nil, errReadOnlyCopy
}
func (oneCopy) Delete(context.Context, string) error { return errReadOnlyCopy }

var errReadOnlyCopy = errors.New("one copy of the backup storage is read only here")

func (e *Engine) pgRestore(ctx context.Context, file string, o RestoreOptions, restoreID string, checksClient bool) error {
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	args := []string{"--jobs=" + strconv.Itoa(jobs), "--exit-on-error"}
	if !o.KeepOwners {
		args = append(args, "--no-owner", "--no-acl")
	}
	if o.Clean {
		args = append(args, "--clean", "--if-exists")
	}
	pg := newTool(ctx, e.Tools.restore(), o.TargetURL, AppRestore+restoreID, append(args, file)...)
	if checksClient {
		pg.checkClient()
	}
	stage := e.meter(fmt.Sprintf("restore: %s -j %d into %s", pg.name, jobs, postgres.Redact(o.TargetURL)), -1)
	err := pg.err(pg.cmd.Run())
	stage.Done()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("restore into %s failed, the target may be partly restored: %w", postgres.Redact(o.TargetURL), err)
	}
	return nil
}

// tempPrefix names the decoded archives of restores: deployctl-restore-PID-….
const tempPrefix = "deployctl-restore-"

// removeStaleTemps removes the archives of restores whose process is gone
// (killed before it could clean up).
func removeStaleTemps(dir string) {
	if dir == "" {
		dir = os.TempDir()
	}
	files, _ := filepath.Glob(filepath.Join(dir, tempPrefix+"*.dump"))
	for _, f := range files {
		pidText, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(f), tempPrefix), "-")
		pid, err := strconv.Atoi(pidText)
		if err == nil && pid != os.Getpid() && !alive(pid) {
			_ = os.Remove(f)
		}
	}
}

// replayOn replays the database-level settings and comment of a backup on
// the database at url.
func replayOn(ctx context.Context, url string, s *DatabaseSettings) ([]string, error) {
	if s == nil {
		return nil, nil
	}
	conn, err := postgres.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	return replaySettings(ctx, conn, s)
}
