package backup

import (
	"context"
	"errors"
	"fmt"
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
	Manifest *Manifest     `json:"-"`
	Target   string        `json:"target"` // redacted
	Problems []string      `json:"problems"`
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

// Restore restores m into o.TargetURL: the dump is decoded to a private
// temporary file (its sha256 checked before the target is touched), then
// pg_restore -j loads it, then the row counts are compared with the
// manifest.
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
		res, err = e.restore(ctx, m, o)
		e.History.Record(ctx, restoreEntry(m, o, res, err))
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
}

func restoreEntry(m *Manifest, o RestoreOptions, res *RestoreResult, err error) provider.Entry {
	rep := RestoreReport{ID: m.ID, Target: postgres.Redact(o.TargetURL), Problems: []string{}}
	ent := provider.Entry{Command: "backup restore", After: &rep, Result: history.Result(err)}
	if err != nil {
		ent.Detail = err.Error()
		return ent
	}
	rep.Problems, rep.OK, rep.DurationMS = res.Problems, len(res.Problems) == 0, res.Duration.Milliseconds()
	if !rep.OK {
		ent.Result = "failed"
	}
	return ent
}

func (e *Engine) restore(ctx context.Context, m *Manifest, o RestoreOptions) (*RestoreResult, error) {
	start := e.now()
	res := &RestoreResult{Manifest: m, Target: postgres.Redact(o.TargetURL), Problems: []string{}}
	n, err := TargetObjects(ctx, o.TargetURL)
	if err != nil {
		return nil, err
	}
	if n > 0 && !o.Clean {
		return nil, fmt.Errorf("%w (%d tables, sequences, views or functions in %s): pass --clean to replace the backup's objects, or restore into an empty database with --target-url", ErrTargetNotEmpty, n, res.Target)
	}
	file, err := e.decodeToFile(ctx, m, o)
	if file != "" {
		defer os.Remove(file)
	}
	if err != nil {
		return nil, err
	}
	if err := e.pgRestore(ctx, file, o); err != nil {
		return nil, err
	}
	var ps problems
	if err := compareCounts(ctx, o.TargetURL, m); errors.As(err, &ps) {
		res.Problems = ps
	} else if err != nil {
		return nil, err
	}
	res.Duration = e.now().Sub(start)
	return res, nil
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
	meter := e.meter("download "+m.ID, m.SizeBytes)
	defer meter.Done()
	d, err := openDump(ctx, e.Store, m, o.Identities, meter, true)
	if err != nil {
		return f.Name(), err
	}
	_, copyErr := copyCtx(ctx, f, d)
	if err := d.finish(); err != nil {
		return f.Name(), err // the checksum names the cause best
	}
	if copyErr != nil {
		return f.Name(), copyErr
	}
	return f.Name(), f.Close()
}

func (e *Engine) pgRestore(ctx context.Context, file string, o RestoreOptions) error {
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
	pg := newTool(ctx, e.Tools.restore(), o.TargetURL, append(args, file)...)
	if err := pg.err(pg.cmd.Run()); err != nil {
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
