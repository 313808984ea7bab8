package backup

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/deployctl/deployctl/pkg/history"
	"github.com/deployctl/deployctl/pkg/provider"
)

// RecoveryTarget is where a point-in-time restore stops: a time, an LSN,
// or the end of the archive (Latest).
type RecoveryTarget struct {
	Time   time.Time
	LSN    string
	Latest bool
}

func (t RecoveryTarget) String() string {
	switch {
	case !t.Time.IsZero():
		return "time " + t.Time.UTC().Format(time.RFC3339Nano)
	case t.LSN != "":
		return "LSN " + t.LSN
	}
	return "the end of the archive"
}

// ErrDataDirNotEmpty refuses to build a data folder over existing files.
var ErrDataDirNotEmpty = errors.New("the data folder is not empty")

// ErrNoBaseBackup is no base backup that can reach the target.
var ErrNoBaseBackup = errors.New("no base backup")

// ChooseBase returns the base backup a restore to t starts from: the newest
// one consistent before t (its stop time or stop LSN not after it), or the
// newest of all for the end of the archive. c.Backups is newest first.
func ChooseBase(c *Catalog, t RecoveryTarget) (*Manifest, error) {
	n := 0
	for i := range c.Backups {
		m := &c.Backups[i]
		if m.Kind() != TypeBase || m.Base == nil {
			continue
		}
		n++
		if ok, _ := m.reaches(t); ok {
			return m, nil
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: the storage holds no base backup yet; take one with 'deployctl backup create --type base'", ErrNoBaseBackup)
	}
	return nil, fmt.Errorf("%w before %s: the oldest of the %d base backups is consistent only later; pick a later target", ErrNoBaseBackup, t, n)
}

// reaches reports whether a restore of m can stop at t: m is consistent
// at t's point or before.
func (m *Manifest) reaches(t RecoveryTarget) (bool, string) {
	b := m.Base
	switch {
	case !t.Time.IsZero():
		if b.StopTime.After(t.Time) {
			return false, fmt.Sprintf("backup %s is consistent only from %s, after the target %s", m.ID, b.StopTime.Format(time.RFC3339Nano), t.Time.UTC().Format(time.RFC3339Nano))
		}
	case t.LSN != "":
		want, err := ParseLSN(t.LSN)
		stop, err2 := ParseLSN(b.StopLSN)
		if err != nil || err2 != nil || stop > want {
			return false, fmt.Sprintf("backup %s is consistent only from LSN %s, after the target LSN %s", m.ID, b.StopLSN, t.LSN)
		}
	}
	return true, ""
}

// PITROptions says where and to which point a base backup is restored.
type PITROptions struct {
	DataDir string
	Target  RecoveryTarget
	Pause   bool // recovery_target_action = pause (default promote)
	// RestoreCommand is PostgreSQL's restore_command (deployctl … wal fetch
	// %f %p); empty: only the WAL inside the backup is replayed.
	RestoreCommand string
	Identities     []age.Identity
	// RunAs is the OS user that owns the data folder when deployctl runs
	// as root (PostgreSQL refuses to run as root); empty: "postgres" if it
	// exists.
	RunAs string
}

// PITRResult is a data folder built for a point-in-time restore, as
// `backup restore --type base -o json` and the history show it.
type PITRResult struct {
	ID       string `json:"id"`
	DataDir  string `json:"data_dir"`
	Target   string `json:"target"`
	Action   string `json:"action"` // promote or pause
	StartLSN string `json:"start_lsn"`
	StopLSN  string `json:"stop_lsn"` // the restored server is consistent from here
	Timeline int    `json:"timeline"`
	Owner    string `json:"owner,omitempty"`
	// Started is false: restore builds the folder; PostgreSQL started on
	// it recovers to the target. Reached is the point a start reached.
	Started    bool   `json:"started"`
	Reached    string `json:"reached,omitempty"`
	DurationMS int64  `json:"duration_ms"`
	OK         bool   `json:"ok"`
}

// RestoreBase builds o.DataDir from base backup m for recovery to o.Target:
// the tar is extracted while its sha256 is checked (a mismatch empties the
// folder again), then recovery.signal and the recovery settings are
// written. It runs under the environment's lock and is recorded in the
// history.
func (e *Engine) RestoreBase(ctx context.Context, m *Manifest, o PITROptions) (*PITRResult, error) {
	var res *PITRResult
	err := e.Lock.Do(ctx, "backup restore", func(ctx context.Context) error {
		release, err := e.lease(ctx, m.ID, "backup restore")
		if err != nil {
			return err
		}
		defer release()
		res, err = e.restoreBase(ctx, m, o)
		ent := provider.Entry{Command: "backup restore", After: res, Result: history.Result(err)}
		if err != nil {
			ent.After, ent.Detail = &PITRResult{ID: m.ID, DataDir: o.DataDir, Target: o.Target.String()}, err.Error()
		}
		e.History.Record(ctx, ent)
		return err
	})
	return res, err
}

func (e *Engine) restoreBase(ctx context.Context, m *Manifest, o PITROptions) (*PITRResult, error) {
	start := e.now()
	if m.Kind() != TypeBase || m.Base == nil {
		return nil, fmt.Errorf("backup %s is a logical backup: restore it with 'deployctl backup restore %s --target-url URL'", m.ID, m.ID)
	}
	if err := CheckManifest(m); err != nil {
		return nil, fmt.Errorf("%w: refusing to restore backup %s; restore another backup ('deployctl backup list')", err, m.ID)
	}
	if ok, why := m.reaches(o.Target); !ok {
		return nil, fmt.Errorf("%w: restore an older base backup, or leave out the id to pick the newest one before the target", errors.New(why))
	}
	dir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return nil, err
	}
	if err := CheckDataDir(dir); err != nil {
		return nil, err
	}
	if err := e.extractBase(ctx, m, dir, o.Identities); err != nil {
		return nil, err
	}
	if err := writeRecovery(dir, m, o); err != nil {
		return nil, err
	}
	res := &PITRResult{ID: m.ID, DataDir: dir, Target: o.Target.String(), Action: action(o.Pause), StartLSN: m.Base.StartLSN,
		StopLSN: m.Base.StopLSN, Timeline: m.Base.Timeline, OK: true}
	if res.Owner, err = chownForServer(dir, o.RunAs); err != nil {
		return nil, err
	}
	res.DurationMS = e.now().Sub(start).Milliseconds()
	return res, nil
}

func action(pause bool) string {
	if pause {
		return "pause"
	}
	return "promote"
}

// CheckDataDir refuses a folder that exists and holds anything: a restore
// builds a data folder from nothing.
func CheckDataDir(dir string) error {
	ents, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("read the data folder %s: %w", dir, err)
	case len(ents) > 0:
		return fmt.Errorf("%w: %s holds %d entries (%s…); choose an empty or new folder", ErrDataDirNotEmpty, dir, len(ents), ents[0].Name())
	}
	return nil
}

// extractBase writes the tar of m into dir (created 0700), checking the
// stored bytes against the manifest; on any failure dir is emptied again.
func (e *Engine) extractBase(ctx context.Context, m *Manifest, dir string, ids []age.Identity) (err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create the data folder: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			emptyDir(dir)
		}
	}()
	meter := e.meter("restore "+m.ID, m.SizeBytes)
	defer meter.Done()
	d, err := openDump(ctx, e.Store, m, ids, meter, true)
	if err != nil {
		return err
	}
	xerr := untar(ctx, dir, d)
	if err := d.finish(); err != nil {
		return err // the checksum names the cause best
	}
	return xerr
}

func emptyDir(dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		_ = os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

// untar extracts a pg_basebackup tar into dir: folders, files and links,
// none outside dir.
func untar(ctx context.Context, dir string, r io.Reader) error {
	tr := tar.NewReader(bufio.NewReaderSize(readerCtx{ctx, r}, 1<<16))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read the backup's tar: %w", err)
		}
		name := filepath.Clean(h.Name)
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return problemf("the backup's tar holds %q, outside the data folder", h.Name)
		}
		path := filepath.Join(dir, name)
		mode := os.FileMode(h.Mode).Perm()
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(path, mode|0o700)
		case tar.TypeReg:
			err = writeFile(path, mode, tr)
		case tar.TypeSymlink:
			err = os.Symlink(h.Linkname, path)
		default:
			continue
		}
		if err != nil {
			return fmt.Errorf("extract %s: %w", h.Name, err)
		}
	}
}

func writeFile(path string, mode os.FileMode, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode|0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeRecovery writes recovery.signal and appends the recovery settings to
// postgresql.auto.conf (which wins over postgresql.conf). A data folder
// without postgresql.conf (Debian keeps it in /etc) gets an empty one.
//
// Without a restore command and a target, nothing is written but that
// postgresql.conf: PostgreSQL started on the folder replays the WAL inside
// the backup (crash recovery from backup_label) and is consistent at the
// stop LSN.
func writeRecovery(dir string, m *Manifest, o PITROptions) error {
	conf := filepath.Join(dir, "postgresql.conf")
	if _, err := os.Stat(conf); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(conf, []byte("# written by deployctl backup restore: the source kept its configuration outside the data folder\n"), 0o600); err != nil {
			return err
		}
	}
	if o.RestoreCommand == "" && o.Target.Latest {
		return nil
	}
	if o.RestoreCommand == "" {
		o.RestoreCommand = "false" // no archive: the WAL in pg_wal only
	}
	if err := os.WriteFile(filepath.Join(dir, "recovery.signal"), nil, 0o600); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n# deployctl backup restore --type base: backup %s, target %s\n", m.ID, o.Target)
	set := func(k, v string) { fmt.Fprintf(&b, "%s = '%s'\n", k, strings.ReplaceAll(v, "'", "''")) }
	set("restore_command", o.RestoreCommand)
	switch {
	case !o.Target.Time.IsZero():
		set("recovery_target_time", o.Target.Time.UTC().Format("2006-01-02 15:04:05.999999-07"))
	case o.Target.LSN != "":
		set("recovery_target_lsn", o.Target.LSN)
	}
	if !o.Target.Latest {
		set("recovery_target_action", action(o.Pause))
	}
	set("recovery_target_timeline", "latest")
	f, err := os.OpenFile(filepath.Join(dir, "postgresql.auto.conf"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ShellQuote quotes s for sh when it needs it.
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// RestoreCommand is PostgreSQL's restore_command that fetches the
// environment's archived WAL with deployctl at self.
func RestoreCommand(self, configDir, env string) string {
	return strings.Join([]string{ShellQuote(self), "--config-dir", ShellQuote(configDir), "--env", ShellQuote(env), "wal", "fetch", "%f", "%p"}, " ")
}
