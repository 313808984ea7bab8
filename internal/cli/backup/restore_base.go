package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/pkg/backup"
)

func (o *RestoreOptions) baseFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.Type, "type", backup.TypeLogical, "logical (into a database) or base (a data folder for a point-in-time restore)")
	cmd.Flags().StringVar(&o.ToTime, "to-time", "", "with --type base: recover to this time (RFC 3339, e.g. 2026-11-25T17:58:00Z)")
	cmd.Flags().StringVar(&o.ToLSN, "to-lsn", "", "with --type base: recover to this WAL location (e.g. 0/3000060)")
	cmd.Flags().BoolVar(&o.ToLatest, "to-latest", false, "with --type base: recover to the end of the archive")
	cmd.Flags().StringVar(&o.DataDir, "data-dir", "", "with --type base: the data folder to build (empty or new)")
	cmd.Flags().BoolVar(&o.Pause, "pause", false, "with --type base: pause at the target instead of promoting")
}

// validate checks the flags of either type, without I/O.
func (o *RestoreOptions) validate(cmd *cobra.Command) error {
	if err := validType(o.Type); err != nil {
		return err
	}
	base := []string{"to-time", "to-lsn", "to-latest", "data-dir", "pause"}
	logical := []string{"target-url", "clean", "jobs", "keep-owners"}
	if o.Type == backup.TypeLogical {
		if o.Ref == "" {
			return app.Usagef("backup restore needs a backup: ID or latest (see 'deployctl backup list')")
		}
		if o.Jobs < 0 {
			return app.Usagef("invalid --jobs %d: must be at least 1", o.Jobs)
		}
		return refuseFlags(cmd, base, "--type base")
	}
	if err := refuseFlags(cmd, logical, "--type logical"); err != nil {
		return err
	}
	return o.validateBase()
}

func refuseFlags(cmd *cobra.Command, names []string, belongs string) error {
	for _, n := range names {
		if cmd.Flags().Changed(n) {
			return app.Usagef("--%s is for %s restores", n, belongs)
		}
	}
	return nil
}

func (o *RestoreOptions) validateBase() error {
	n := 0
	for _, set := range []bool{o.ToTime != "", o.ToLSN != "", o.ToLatest} {
		if set {
			n++
		}
	}
	if n != 1 {
		return app.Usagef("backup restore --type base needs exactly one target: --to-time TIME, --to-lsn LSN or --to-latest")
	}
	if o.DataDir == "" {
		return app.Usagef("backup restore --type base needs --data-dir DIR: the (empty or new) data folder to build")
	}
	if o.ToLatest && o.Pause {
		return app.Usagef("--pause needs a --to-time or --to-lsn target: at the end of the archive the server always promotes")
	}
	switch {
	case o.ToTime != "":
		t, err := parseTime(o.ToTime)
		if err != nil {
			return err
		}
		o.target.Time = t
	case o.ToLSN != "":
		if _, err := backup.ParseLSN(o.ToLSN); err != nil {
			return app.Usagef("invalid --to-lsn: %v", err)
		}
		o.target.LSN = strings.ToUpper(o.ToLSN)
	default:
		o.target.Latest = true
	}
	return nil
}

// parseTime reads RFC 3339, with a space instead of T if need be; a time
// without a zone is refused (whose clock?).
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, app.Usagef("invalid --to-time %q: use RFC 3339 with a zone, e.g. 2026-11-25T17:58:00Z or 2026-11-25T18:58:00+01:00", s)
}

func restoreBaseRun(ctx context.Context, opts *RestoreOptions) error {
	f := opts.Factory
	dir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return err
	}
	if err := backup.CheckDataDir(dir); err != nil {
		return dataDirError(err)
	}
	e, cfg, err := engine(ctx, f)
	if err != nil {
		return err
	}
	m, err := chooseBase(ctx, e, opts.Ref, opts.target)
	if err != nil {
		return err
	}
	cmdline, err := restoreCommand(f, cfg.Env)
	if err != nil {
		return err
	}
	if f.Flags.DryRun {
		opts.IO.Printf("dry run: would build %s from base backup %s (consistent from %s, LSN %s) and set it to recover to %s with restore_command %s\n",
			dir, m.ID, m.Base.StopTime.Format(time.RFC3339), m.Base.StopLSN, opts.target, cmdline)
		return nil
	}
	if e.Lock, err = f.Guard(ctx); err != nil {
		return err
	}
	ids, err := identities(cfg, m)
	if err != nil {
		return err
	}
	res, err := e.RestoreBase(ctx, m, backup.PITROptions{DataDir: dir, Target: opts.target, Pause: opts.Pause, RestoreCommand: cmdline, Identities: ids})
	if err != nil {
		return dataDirError(err)
	}
	if f.Flags.JSON() {
		return opts.IO.JSON(res)
	}
	fmt.Fprintln(opts.IO.Out, res.DataDir)
	owner := ""
	if res.Owner != "" {
		owner = ", owned by " + res.Owner
	}
	then := "then " + res.Action + "s"
	if opts.target.Latest {
		then = "then promotes"
	}
	opts.IO.Printf("built %s from base backup %s (consistent from LSN %s, timeline %d)%s; not started: start PostgreSQL on it (pg_ctl -D %s start) and it replays the archived WAL to %s, %s\n",
		res.DataDir, res.ID, res.StopLSN, res.Timeline, owner, backup.ShellQuote(res.DataDir), res.Target, then)
	return nil
}

// dataDirError makes a non-empty data folder a usage error (exit 2).
func dataDirError(err error) error {
	if errors.Is(err, backup.ErrDataDirNotEmpty) {
		return app.Usagef("%v", err)
	}
	return err
}

// chooseBase resolves ref (an id, or latest / none: the newest base backup
// that reaches the target).
func chooseBase(ctx context.Context, e *backup.Engine, ref string, t backup.RecoveryTarget) (*backup.Manifest, error) {
	if ref != "" && ref != "latest" {
		m, err := backup.Load(ctx, e.Store, ref)
		if err == nil && m.Kind() != backup.TypeBase {
			err = app.Usagef("backup %s is a logical backup: restore it without --type base, into a database (--target-url)", ref)
		}
		return m, err
	}
	c, err := backup.Scan(ctx, e.Store)
	if err != nil {
		return nil, err
	}
	return backup.ChooseBase(c, t)
}

// restoreCommand is the restore_command that runs this very deployctl on
// this environment.
func restoreCommand(f *app.Factory, env string) (string, error) {
	self, err := os.Executable()
	if err == nil {
		self, err = filepath.Abs(self)
	}
	if err != nil {
		return "", fmt.Errorf("find deployctl's own path for restore_command: %w", err)
	}
	dir, err := filepath.Abs(or(f.Flags.ConfigDir, "environments"))
	if err != nil {
		return "", err
	}
	return backup.RestoreCommand(self, dir, env), nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// resolveLogical finds the backup a logical restore takes: an id, or for
// latest the newest logical backup (a newer base backup is not a dump).
func resolveLogical(ctx context.Context, e *backup.Engine, ref string) (*backup.Manifest, error) {
	if ref != "latest" {
		return backup.Resolve(ctx, e.Store, ref)
	}
	c, err := backup.Scan(ctx, e.Store)
	if err != nil {
		return nil, err
	}
	if c = c.OfType(backup.TypeLogical); len(c.Backups) == 0 {
		return nil, fmt.Errorf("%w: the storage holds no logical backup yet; take one with 'deployctl backup create'", backup.ErrNoBackup)
	}
	return &c.Backups[0], nil
}
