package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/backup"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/copies"
	"github.com/deployctl/deployctl/pkg/timeutil"
)

// VerifyOptions are the options of backup verify.
type VerifyOptions struct {
	IO      *ui.IOStreams
	Factory *app.Factory
	Flags   *DBFlags
	Ref     string // an id or latest
	Level   string
	Type    string // "" any, logical or base: which backup latest is
	MaxAge  timeutil.Duration
	// Grace is how long a newer folder without a manifest is taken for a
	// create in progress by verify latest.
	Grace timeutil.Duration
}

// VerifyReport is the JSON of backup verify.
type VerifyReport struct {
	ID           string               `json:"id,omitempty"`
	OK           bool                 `json:"ok"`
	Verification *backup.Verification `json:"verification"`
	Newest       *Entry               `json:"newest"` // for --max-age: the newest backup
	Problems     []string             `json:"problems"`
	// CleanedUp names the scratch databases left by killed verifies that
	// this one dropped.
	CleanedUp []string `json:"cleaned_up,omitempty"`
	// Copies is the check of every copy of the backup, with
	// backup.storage.copies: size and sha256 of its objects in each store.
	Copies []CopyCheck `json:"copies,omitempty"`
}

// CopyCheck is one store's copy of the verified backup.
type CopyCheck struct {
	Store  string `json:"store"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// NewCmdVerify returns backup verify.
func NewCmdVerify(f *app.Factory, fl *DBFlags, runF func(*VerifyOptions) error) *cobra.Command {
	opts := &VerifyOptions{IO: f.IO, Factory: f, Flags: fl, Level: backup.LevelRestore, Grace: timeutil.Duration(backup.IncompleteGrace)}
	cmd := &cobra.Command{
		Use:   "verify [ID|latest]",
		Short: "Prove a backup restores (default: the newest, fully)",
		Long: `Verify a backup and store the result beside it ('backup list' shows it):

  checksum  size and sha256 of the stored dump match the manifest
  archive   and pg_restore reads the whole archive
  restore   and it restores into a scratch database (on backup.verify_url, else
            the source database's server) with --no-owner --no-acl, and every
            table has the row count of the manifest; the scratch database is
            dropped afterwards, also on failure or Ctrl-C (default)

latest (the default) is the newest backup folder, whatever its state: when its
manifest is broken or missing, verify fails and names it instead of verifying an
older backup. A folder without a manifest younger than --grace (1h) may be a
create in progress: then the newest complete backup is verified.

--max-age also fails when the newest backup is older than the given age.
Made for cron: silent on success, one line per problem on stderr; exit 1 when
the backup or its age fails, 4 when the storage or the database cannot be
reached. -o json prints a report for monitoring.

--type base takes the newest base backup for latest; a base backup (named or
latest) is verified as one: checksum is the sha256 of its files; archive
also extracts it into a temporary folder and runs pg_verifybackup; restore
(default) then starts a scratch PostgreSQL on that copy (a free port, a
private socket, no archiving, stopped and removed also on failure or Ctrl-C)
that replays the WAL to the end of the archive ('wal fetch'), and checks it
reaches a consistent state at or past the backup's stop LSN.`,
		Example: "  deployctl backup verify --type base --max-age 26h\n  deployctl backup verify\n  deployctl backup verify latest --max-age 26h\n  deployctl backup verify 20261125T030000Z-a1b2 --level checksum -o json",
		Args:    app.MaximumNArgs(1),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
			return backupIDs(cmd.Context(), f, args, prefix), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Ref = args[0]
			}
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return verifyRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Level, "level", backup.LevelRestore, "checksum, archive or restore")
	cmd.Flags().StringVar(&opts.Type, "type", "", "logical or base: verify the newest backup of that type (default: the newest of any type)")
	cmd.Flags().Var(&opts.MaxAge, "max-age", "fail when the newest backup is older than this (e.g. 26h, 2d)")
	cmd.Flags().Var(&opts.Grace, "grace", "age after which a newer folder without a manifest is a failed create, not one in progress")
	return cmd
}

func (o *VerifyOptions) validate() error {
	switch o.Level {
	case backup.LevelChecksum, backup.LevelArchive, backup.LevelRestore:
	default:
		return app.Usagef("invalid --level %q: use checksum, archive or restore", o.Level)
	}
	if o.Type != "" {
		if err := validType(o.Type); err != nil {
			return err
		}
	}
	if o.Grace < 0 {
		return app.Usagef("invalid --grace %s: must be positive", o.Grace.String())
	}
	if o.MaxAge < 0 {
		return app.Usagef("invalid --max-age %s: must be positive", o.MaxAge.String())
	}
	return nil
}

func verifyRun(ctx context.Context, opts *VerifyOptions) error {
	f := opts.Factory
	e, _, err := engine(ctx, f)
	if err != nil {
		return err
	}
	rep := &VerifyReport{Problems: []string{}}
	c, err := backup.Scan(ctx, e.Store)
	if err != nil {
		return err
	}
	c = c.OfType(opts.Type)
	all := c.Backups
	if len(all) > 0 {
		n := entry(all[0])
		rep.Newest = &n
	} else if sc, ok := e.Store.(provider.StoreChecker); ok {
		if err := sc.CheckStore(ctx); err != nil {
			return err // not an empty store: one that is not there (exit 4)
		}
	}
	opts.checkAge(rep, all, f.Now())
	if err := opts.verify(ctx, e, c, rep); err != nil {
		return err
	}
	rep.OK = len(rep.Problems) == 0
	if !rep.OK {
		notifyVerifyFailed(ctx, f, rep)
	}
	return opts.render(rep)
}

func (o *VerifyOptions) checkAge(rep *VerifyReport, all []backup.Manifest, now time.Time) {
	if o.MaxAge <= 0 {
		return
	}
	if len(all) == 0 {
		rep.Problems = append(rep.Problems, "there is no backup at all (--max-age "+o.MaxAge.String()+")")
		return
	}
	if age := now.Sub(all[0].CreatedAt); age > time.Duration(o.MaxAge) {
		rep.Problems = append(rep.Problems, fmt.Sprintf("the newest backup %s is %s old, more than --max-age %s", all[0].ID, timeutil.FormatDuration(age), o.MaxAge.String()))
	}
}

func (o *VerifyOptions) verify(ctx context.Context, e *backup.Engine, c *backup.Catalog, rep *VerifyReport) error {
	var m *backup.Manifest
	var err error
	if o.Ref == "" || o.Ref == "latest" {
		m, err = c.Latest(o.Factory.Now(), time.Duration(o.Grace))
	} else {
		m, err = backup.Load(ctx, e.Store, o.Ref)
	}
	var p *backup.ProblemError
	if errors.As(err, &p) {
		rep.Problems = append(rep.Problems, p.Msg)
		return nil
	}
	if errors.Is(err, backup.ErrNoBackup) {
		if len(rep.Problems) == 0 || o.Ref != "" && o.Ref != "latest" {
			rep.Problems = append(rep.Problems, err.Error())
		}
		return nil
	}
	if err != nil {
		return err
	}
	rep.ID = m.ID
	vo, err := o.verifyOptions(ctx, m)
	if err != nil {
		return err
	}
	res, err := e.Verify(ctx, m, vo)
	if err != nil {
		return err
	}
	rep.CleanedUp = res.CleanedUp
	rep.Verification = &res.Verification
	if rep.Newest != nil && rep.Newest.ID == m.ID {
		rep.Newest.Verification = rep.Verification
	}
	rep.Problems = append(rep.Problems, res.Problems...)
	if cs, ok := e.Store.(*copies.Store); ok {
		return o.verifyCopies(ctx, cs, m, rep)
	}
	return nil
}

// verifyCopies checks the size and sha256 of the backup's objects in every
// store. A copy that is missing or differs is a problem naming the store,
// and the stored verification says so; a store that cannot be read is a
// warning (the backup was verified from another copy).
func (o *VerifyOptions) verifyCopies(ctx context.Context, cs *copies.Store, m *backup.Manifest, rep *VerifyReport) error {
	var found []string
	for i, st := range cs.Stores {
		detail, probs, err := checkCopy(ctx, cs, i, m)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			o.IO.Warnf("backup %s: the copy in store %s was not checked: %v", m.ID, st.Name, err)
			rep.Copies = append(rep.Copies, CopyCheck{Store: st.Name, Detail: "not checked: " + err.Error()})
			continue
		}
		if len(probs) > 0 {
			detail = strings.Join(probs, "; ")
		}
		rep.Copies = append(rep.Copies, CopyCheck{Store: st.Name, OK: len(probs) == 0, Detail: detail})
		found = append(found, probs...)
	}
	if len(found) == 0 {
		return nil
	}
	rep.Problems = append(rep.Problems, found...)
	if v := rep.Verification; v != nil {
		if v.OK {
			v.Detail = ""
		} else {
			v.Detail += "; "
		}
		v.OK = false
		v.Detail += strings.Join(found, "; ")
		if err := backup.SaveVerification(ctx, cs, m.ID, *v); err != nil {
			return fmt.Errorf("store the verification result: %w", err)
		}
	}
	return nil
}

// storedObjects are the objects of m whose size and sha256 the manifest
// holds.
func storedObjects(m *backup.Manifest) []backup.StoredFile {
	if m.Kind() == backup.TypeBase && m.Base != nil {
		return m.Base.Files
	}
	return []backup.StoredFile{{Object: m.Object, SizeBytes: m.SizeBytes, SHA256: m.SHA256}}
}

// checkCopy reads the manifest and every object of m from store i only.
// err is a store that could not be read; probs are what is wrong with it.
func checkCopy(ctx context.Context, cs *copies.Store, i int, m *backup.Manifest) (detail string, probs []string, err error) {
	name := cs.Stores[i].Name
	rc, err := cs.GetFrom(ctx, i, m.ID+"/"+backup.ManifestObject)
	if errors.Is(err, provider.ErrNotFound) {
		probs = append(probs, fmt.Sprintf("backup %s: its manifest is missing from store %s", m.ID, name))
	} else if err != nil {
		return "", nil, err
	} else {
		rc.Close()
	}
	var bytes int64
	objs := storedObjects(m)
	for _, f := range objs {
		rc, err := cs.GetFrom(ctx, i, f.Object)
		if errors.Is(err, provider.ErrNotFound) {
			probs = append(probs, fmt.Sprintf("backup %s: %s is missing from store %s", m.ID, f.Object, name))
			continue
		}
		if err != nil {
			return "", nil, err
		}
		h := sha256.New()
		n, err := io.Copy(h, rc)
		rc.Close()
		if err != nil {
			return "", nil, fmt.Errorf("read %s: %w", f.Object, err)
		}
		bytes += n
		if sum := hex.EncodeToString(h.Sum(nil)); n != f.SizeBytes || sum != f.SHA256 {
			probs = append(probs, fmt.Sprintf("backup %s: the copy of %s in store %s differs from the manifest (%d bytes, sha256 %s; the manifest says %d bytes, sha256 %s)",
				m.ID, f.Object, name, n, sum, f.SizeBytes, f.SHA256))
		}
	}
	return fmt.Sprintf("size and sha256 of its %d object(s) match (%s)", len(objs), ui.HumanBytes(bytes)), probs, nil
}

func (o *VerifyOptions) verifyOptions(ctx context.Context, m *backup.Manifest) (backup.VerifyOptions, error) {
	f := o.Factory
	cfg, err := f.Config()
	if err != nil {
		return backup.VerifyOptions{}, err
	}
	vo := backup.VerifyOptions{Level: o.Level, ServerURL: cfg.Backup.VerifyURL}
	if o.Level != backup.LevelChecksum {
		if vo.Identities, err = identities(cfg, m); err != nil {
			return vo, err
		}
	}
	if m.Kind() == backup.TypeBase {
		vo.RestoreCommand, err = restoreCommand(f, cfg.Env)
		return vo, err
	}
	if o.Level == backup.LevelRestore && vo.ServerURL == "" {
		vo.ServerURL, err = f.DatabaseURL(ctx, o.Flags.DatabaseURL)
	}
	return vo, err
}

func (o *VerifyOptions) render(rep *VerifyReport) error {
	if o.Factory.Flags.JSON() {
		if err := o.IO.JSON(rep); err != nil {
			return err
		}
	} else {
		for _, p := range rep.Problems {
			fmt.Fprintln(o.IO.ErrOut, "backup verify: "+p)
		}
		if o.IO.StderrTTY { // cron stays quiet: the killed run was reported when it was killed
			for _, name := range rep.CleanedUp {
				fmt.Fprintf(o.IO.ErrOut, "note: dropped the scratch database %s, left by a verify that was killed\n", name)
			}
		}
		if rep.OK && o.IO.StderrTTY && rep.Verification != nil {
			o.IO.Printf("backup %s verified (%s): %s\n", rep.ID, rep.Verification.Level, rep.Verification.Detail)
		}
	}
	if !rep.OK {
		return app.ErrFailed
	}
	return nil
}
