package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/jackc/pgx/v5"

	"github.com/deployctl/deployctl/pkg/postgres"
)

// VerifyOptions says how deeply to verify.
type VerifyOptions struct {
	Level string // checksum | archive | restore
	// ServerURL is where the scratch database of level restore is created
	// (backup.verify_url, else the source database's server).
	ServerURL  string
	Identities []age.Identity
	// RestoreCommand, TempDir and RunAs are for base backups (see
	// verifyBase and PITROptions).
	RestoreCommand, TempDir, RunAs string
}

// VerifyResult is the outcome of one verification.
type VerifyResult struct {
	Manifest     *Manifest    `json:"-"`
	Verification Verification `json:"verification"`
	Problems     []string     `json:"problems"`
	// CleanedUp names the scratch databases of killed verifies that this
	// one dropped.
	CleanedUp []string `json:"cleaned_up,omitempty"`
	// Reached is the LSN a base backup's scratch server recovered to.
	Reached string `json:"reached_lsn,omitempty"`
}

// Verify checks backup m at o.Level and stores the result beside it. A bad
// backup is reported in Problems; an error means the verification could
// not run (storage or database unreachable, interrupted).
//
// It holds a read lease on the backup while it runs, so that a prune keeps
// it; a backup deleted all the same fails the verify (ErrBackupGone).
func (e *Engine) Verify(ctx context.Context, m *Manifest, o VerifyOptions) (*VerifyResult, error) {
	release, err := e.lease(ctx, m.ID, "backup verify")
	if err != nil {
		return nil, err
	}
	defer release()
	res, err := e.verify(ctx, m, o)
	if err == nil && !e.exists(ctx, m.ID) {
		return nil, fmt.Errorf("backup %s: %w", m.ID, ErrBackupGone)
	}
	if err != nil {
		return nil, err
	}
	if err := SaveVerification(ctx, e.Store, m.ID, res.Verification); err != nil {
		return nil, fmt.Errorf("store the verification result: %w", err)
	}
	if !e.exists(ctx, m.ID) { // deleted between the check and the save: take the result back
		_ = e.Store.Delete(context.WithoutCancel(ctx), m.ID+"/"+VerifyObject)
		return nil, fmt.Errorf("backup %s: %w", m.ID, ErrBackupGone)
	}
	m.Verification = &res.Verification
	return res, nil
}

// exists reports whether backup id still has its manifest (an unreadable
// store counts as there: the verify's own result says more).
func (e *Engine) exists(ctx context.Context, id string) bool {
	_, err := Load(ctx, e.Store, id)
	return !errors.Is(err, ErrNoBackup)
}

func (e *Engine) verify(ctx context.Context, m *Manifest, o VerifyOptions) (*VerifyResult, error) {
	start := e.now()
	res := &VerifyResult{Manifest: m, Problems: []string{}}
	if err := CheckManifest(m); err != nil {
		res.Problems = append(res.Problems, err.Error())
	}
	detail, err := e.verifyLevel(ctx, m, o, res)
	var p *ProblemError
	var ps problems
	switch {
	case errors.As(err, &ps):
		res.Problems = append(res.Problems, ps...)
	case errors.As(err, &p):
		res.Problems = append(res.Problems, p.Msg)
	case err != nil:
		return nil, err
	}
	res.Verification = Verification{Level: o.Level, OK: len(res.Problems) == 0, At: e.now(), Detail: detail}
	if !res.Verification.OK {
		res.Verification.Detail = strings.Join(res.Problems, "; ")
	} else {
		res.Verification.Detail += fmt.Sprintf(" (%s)", e.now().Sub(start).Round(100*time.Millisecond))
	}
	return res, nil
}

// problems is several findings at once.
type problems []string

func (p problems) Error() string { return strings.Join(p, "; ") }

func (e *Engine) verifyLevel(ctx context.Context, m *Manifest, o VerifyOptions, res *VerifyResult) (string, error) {
	if m.Kind() == TypeBase {
		o.Level = or(o.Level, LevelRestore)
		return e.verifyBase(ctx, m, o, res)
	}
	switch o.Level {
	case LevelChecksum:
		return "size and sha256 match", e.verifyChecksum(ctx, m)
	case LevelArchive:
		return "size and sha256 match, pg_restore reads the whole archive", e.verifyArchive(ctx, m, o)
	case LevelRestore, "":
		o.Level = LevelRestore
		var err error
		res.CleanedUp, err = e.verifyRestore(ctx, m, o)
		return fmt.Sprintf("size and sha256 match, restored %d tables (%d rows) into a scratch database, row counts match", len(m.Tables), m.Rows()), err
	}
	return "", fmt.Errorf("unknown verification level %q: use checksum, archive or restore", o.Level)
}

func (e *Engine) verifyChecksum(ctx context.Context, m *Manifest) error {
	meter := e.meter("verify "+m.ID, m.SizeBytes)
	defer meter.Done()
	d, err := openDump(ctx, e.Store, m, nil, meter, false)
	if err != nil {
		return err
	}
	return d.finish()
}

func (e *Engine) verifyArchive(ctx context.Context, m *Manifest, o VerifyOptions) error {
	pg := newLocalTool(ctx, e.Tools.restore(), "--file=/dev/null")
	return e.feed(ctx, m, o.Identities, pg)
}

// feed streams the decoded dump into pg's stdin and reports, in this
// order, a checksum mismatch, a dump that cannot be decoded, and pg's own
// failure (which only matters when the first two are fine).
func (e *Engine) feed(ctx context.Context, m *Manifest, ids []age.Identity, pg *tool) error {
	meter := e.meter("verify "+m.ID, m.SizeBytes)
	defer meter.Done()
	d, err := openDump(ctx, e.Store, m, ids, meter, true)
	if err != nil {
		return err
	}
	var finishing Meter = nopMeter{}
	copyErr, runErr := run(pg, d, func() {
		// all of the dump is in: what remains is pg_restore's own (indexes,
		// constraints), which the byte count cannot show
		meter.Done()
		finishing = e.meter("verify "+m.ID+": "+pg.name+" is finishing (indexes, constraints)", -1)
	})
	finishing.Done()
	sumErr := d.finish()
	if err := ctx.Err(); err != nil {
		return err
	}
	var found problems
	for _, err := range []error{sumErr, copyErr} {
		var p *ProblemError
		if errors.As(err, &p) {
			found = append(found, p.Msg)
		} else if err != nil && !isBrokenPipe(err) {
			return err
		}
	}
	if len(found) == 0 && runErr != nil {
		found = append(found, fmt.Sprintf("%s cannot restore %s: %v", m.Object, m.ID, runErr))
	}
	if len(found) > 0 {
		return found
	}
	return nil
}

// run starts pg with r on its stdin and waits for both.
// run starts pg with r on its stdin and waits for both; fed, when set, is
// called once all of r is in.
func run(pg *tool, r io.Reader, fed ...func()) (copyErr, runErr error) {
	in, err := pg.cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := pg.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w (install the PostgreSQL client)", pg.name, err)
	}
	_, copyErr = io.Copy(in, r)
	in.Close()
	for _, f := range fed {
		f()
	}
	return copyErr, pg.err(pg.cmd.Wait())
}

func isBrokenPipe(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "broken pipe") || strings.Contains(err.Error(), "file already closed"))
}

func (e *Engine) verifyRestore(ctx context.Context, m *Manifest, o VerifyOptions) ([]string, error) {
	if o.ServerURL == "" {
		return nil, errors.New("no server for the scratch database: set backup.verify_url or pass --database-url")
	}
	scratch, drop, cleaned, err := createScratch(ctx, o.ServerURL)
	if err != nil {
		return cleaned, err
	}
	defer drop()
	pg := newTool(ctx, e.Tools.restore(), scratch, AppVerify, "--no-owner", "--no-acl", "--exit-on-error")
	if err := e.feed(ctx, m, o.Identities, pg); err != nil {
		return cleaned, err
	}
	counting := e.meter(fmt.Sprintf("verify %s: counting the rows of %d tables", m.ID, len(m.Tables)), -1)
	defer counting.Done()
	return cleaned, compareCounts(ctx, scratch, m)
}

// scratchPrefix starts the name of every scratch database. While a verify
// runs, it keeps a connection open to its scratch database (and a session
// advisory lock named after it, from before the database exists until it
// is dropped). A verify killed outright (SIGKILL, the OOM killer, a cron
// timeout) cannot drop its scratch database, but its connections end with
// it: so every verify first drops the scratch databases nobody is
// connected to, which only a killed verify leaves.
const scratchPrefix = "deployctl_verify_"

// createScratch creates an empty database on the server of url and returns
// its URL, a function that drops it (which works after Ctrl-C too), and the
// names of the scratch databases left by killed verifies that it dropped.
func createScratch(ctx context.Context, url string) (string, func(), []string, error) {
	name := scratchPrefix + strings.ToLower(strings.NewReplacer("-", "_").Replace(NewID(time.Now())))
	conn, err := postgres.Connect(ctx, url)
	if err != nil {
		return "", nil, nil, err
	}
	var guard *pgx.Conn
	release := func() {
		if guard != nil {
			guard.Close(context.Background())
		}
		conn.Close(context.Background())
	}
	cleaned, err := dropLeftScratch(ctx, conn)
	if err != nil {
		release()
		return "", nil, cleaned, fmt.Errorf("look for scratch databases of killed verifies on %s: %w", postgres.Redact(url), err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(hashtextextended($1, 0))", name); err != nil {
		release()
		return "", nil, cleaned, fmt.Errorf("lock the scratch database's name on %s: %w", postgres.Redact(url), err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		release()
		return "", nil, cleaned, fmt.Errorf("create the scratch database on %s: %w", postgres.Redact(url), err)
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		defer release() // after the drop: the lock covers the database until it is gone
		if guard != nil {
			guard.Close(ctx)
			guard = nil
		}
		if conn.IsClosed() {
			if c, err := postgres.Connect(ctx, url); err == nil {
				conn = c
			}
		}
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	}
	scratch, err := postgres.WithDatabase(url, name)
	if err == nil {
		guard, err = postgres.Connect(ctx, scratch)
	}
	if err != nil {
		drop()
		return "", nil, cleaned, err
	}
	return scratch, drop, cleaned, nil
}

// dropLeftScratch drops the scratch databases nobody is connected to and
// nobody holds the lock of. It drops without force, so a session that
// connects meanwhile keeps its database; a database it may not drop (owned
// by another role) it leaves.
func dropLeftScratch(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	rows, err := conn.Query(ctx, `SELECT d.datname FROM pg_database d
		WHERE starts_with(d.datname, $1)
		AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)
		ORDER BY 1`, scratchPrefix)
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	var dropped []string
	for _, name := range names {
		var free bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", name).Scan(&free); err != nil {
			return dropped, err
		}
		if !free {
			continue // a verify is creating it
		}
		_, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize())
		if _, uerr := conn.Exec(ctx, "SELECT pg_advisory_unlock(hashtextextended($1, 0))", name); uerr != nil {
			return dropped, uerr
		}
		if err == nil {
			dropped = append(dropped, name)
		}
	}
	return dropped, nil
}

// compareCounts counts every table and materialized view of the manifest
// in the restored database.
func compareCounts(ctx context.Context, url string, m *Manifest) error {
	conn, err := postgres.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "SET statement_timeout = 0"); err != nil {
		return err
	}
	var found problems
	for _, t := range m.Tables {
		if msg, err := compareCount(ctx, conn, t); err != nil {
			return err
		} else if msg != "" {
			found = append(found, msg)
		}
	}
	if len(found) > 0 {
		return found
	}
	return nil
}

// compareCount returns what is wrong with t in the restored database, or "".
func compareCount(ctx context.Context, conn *pgx.Conn, t TableCount) (string, error) {
	name := pgx.Identifier{t.Schema, t.Name}.Sanitize()
	if t.Kind == KindMatview && t.NoData {
		var populated bool
		err := conn.QueryRow(ctx, "SELECT relispopulated FROM pg_class WHERE oid = to_regclass($1)", name).Scan(&populated)
		switch {
		case ctx.Err() != nil:
			return "", ctx.Err()
		case err != nil:
			return fmt.Sprintf("%s: not restored (%v)", t.what(), err), nil
		case populated:
			return fmt.Sprintf("%s: populated after the restore, the manifest says WITH NO DATA", t.what()), nil
		}
		return "", nil
	}
	var n int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM ONLY "+name).Scan(&n); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return fmt.Sprintf("%s: not restored (%v)", t.what(), err), nil
	}
	if n != t.Rows {
		return fmt.Sprintf("%s: %d rows restored, the manifest says %d", t.what(), n, t.Rows), nil
	}
	return "", nil
}
