package migrate

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deployctl/deployctl/pkg/history"
	"github.com/deployctl/deployctl/pkg/postgres"
	"github.com/deployctl/deployctl/pkg/provider"
)

// Rehearser rehearses the pending migrations of a database on a scratch
// database of the same server: it creates the scratch database, fills it
// (a copy of the source by pg_dump | pg_restore, or Fill, e.g. a restored
// backup), runs up, down, up of every pending migration, and drops the
// scratch database whatever happens, Ctrl-C included. A down section must
// put the schema back as it was before its up (pg_dump --schema-only,
// normalised, compared): else the rehearsal fails with a *SchemaDiffError.
type Rehearser struct {
	URL        string // the source; holds a password: never print it
	Dir        string
	Migrations []Migration
	AppName    string
	Now        func() time.Time
	Notef      func(format string, a ...any)
	// Fill fills the scratch database instead of copying the source.
	Fill func(ctx context.Context, scratchURL string) error
	// PgDump and PgRestore name the programs; default: found on PATH, else
	// in /usr/lib/postgresql/*/bin.
	PgDump, PgRestore string
	// History records every finished rehearsal; nil records nothing.
	History *history.Recorder
}

func (r *Rehearser) notef(format string, a ...any) {
	if r.Notef != nil {
		r.Notef(format, a...)
	}
}

// Run rehearses. The returned Rehearsal is filled even when a migration
// failed (OK false, Error set); err is for failures of the rehearsal itself.
func (r *Rehearser) Run(ctx context.Context) (*Rehearsal, error) {
	reh, err := r.run(ctx)
	if err == nil {
		r.History.Record(ctx, provider.Entry{Command: "migrate rehearse", Result: map[bool]string{true: "ok", false: "failed"}[reh.OK],
			Detail: "set " + reh.SetHash + " on a copy of " + reh.Database})
	}
	return reh, err
}

func (r *Rehearser) run(ctx context.Context) (*Rehearsal, error) {
	src, err := Open(ctx, r.URL, r.AppName)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	st, err := src.ReadState(ctx)
	if err != nil {
		return nil, err
	}
	pending, err := PendingUpTo(r.Migrations, st, 0)
	if err != nil {
		return nil, err
	}
	reh := &Rehearsal{SetHash: SetHash(pending), At: r.Now().UTC(), Database: src.Name(), Migrations: []RehearsedMigration{}}
	if len(pending) == 0 {
		r.notef("nothing pending: no scratch database needed\n")
		reh.OK = true
		return reh, nil
	}
	scratch, drop, err := r.createScratch(ctx, src)
	if err != nil {
		return nil, err
	}
	defer drop()
	if err := r.fill(ctx, scratch); err != nil {
		return nil, err
	}
	if err := r.steps(ctx, scratch, pending, reh); err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		reh.Error = err.Error()
		return reh, nil
	}
	reh.OK = true
	return reh, nil
}

// createScratch creates an empty database beside the source; drop removes
// it, even after the context was cancelled.
func (r *Rehearser) createScratch(ctx context.Context, src *DB) (string, func(), error) {
	var name string
	if err := src.SQL.QueryRowContext(ctx, "SELECT current_database()").Scan(&name); err != nil {
		return "", nil, err
	}
	// unique even for two rehearsals in one second (a killed one resumed at once)
	var tag [3]byte
	_, _ = rand.Read(tag[:])
	scratch := truncate(fmt.Sprintf("%s%d_%x_%s", scratchPrefix, r.Now().Unix(), tag, name), 63)
	r.warnLeftovers(ctx, src)
	ident := pgx.Identifier{scratch}.Sanitize()
	if _, err := src.SQL.ExecContext(ctx, "CREATE DATABASE "+ident); err != nil {
		return "", nil, fmt.Errorf("create the scratch database %s (the role needs CREATEDB): %w", scratch, err)
	}
	r.notef("rehearsing on scratch database %s\n", scratch)
	drop := func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, err := src.SQL.ExecContext(dctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			r.notef("warning: could not drop the scratch database %s: %v; drop it by hand\n", scratch, err)
			return
		}
		r.notef("dropped scratch database %s\n", scratch)
	}
	u, err := postgres.WithDatabase(r.URL, scratch)
	if err != nil {
		drop()
		return "", nil, err
	}
	return u, drop, nil
}

// scratchPrefix starts the name of every scratch database.
const scratchPrefix = "deployctl_rehearse_"

// warnLeftovers names the scratch databases that a rehearsal killed before
// it could drop its own left behind (none is in use), and how to drop them.
// It drops nothing: one may belong to a rehearsal of another operator.
func (r *Rehearser) warnLeftovers(ctx context.Context, src *DB) {
	rows, err := src.SQL.QueryContext(ctx, `SELECT d.datname FROM pg_database d
		WHERE d.datname LIKE 'deployctl\_rehearse\_%' AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)
		ORDER BY 1`)
	if err != nil {
		return
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if rows.Scan(&name) == nil {
			r.notef("warning: scratch database %s is left from a rehearsal that was stopped before it could drop it (none is connected); drop it: DROP DATABASE %s;\n", name, pgx.Identifier{name}.Sanitize())
		}
	}
}

func (r *Rehearser) fill(ctx context.Context, scratch string) error {
	if r.Fill != nil {
		return r.Fill(ctx, scratch)
	}
	return r.copyDatabase(ctx, scratch)
}

// copyDatabase pipes pg_dump of the source into pg_restore of the scratch
// database, without owners and privileges (the scratch database is for
// running migrations, not for access tests). Passwords go by PGPASSWORD,
// never on a command line.
func (r *Rehearser) copyDatabase(ctx context.Context, scratch string) error {
	dumpURL, dumpEnv := childConn(r.URL)
	restURL, restEnv := childConn(scratch)
	dump := exec.CommandContext(ctx, or(r.PgDump, findTool("pg_dump")), "--format=custom", "--no-owner", "--no-acl", "--dbname="+dumpURL)
	rest := exec.CommandContext(ctx, or(r.PgRestore, findTool("pg_restore")), "--no-owner", "--no-acl", "--exit-on-error", "--dbname="+restURL)
	dump.Env, rest.Env = append(os.Environ(), dumpEnv...), append(os.Environ(), restEnv...)
	pr, pw := io.Pipe()
	var dumpErr, restErr strings.Builder
	dump.Stdout, dump.Stderr = pw, &dumpErr
	rest.Stdin, rest.Stderr = pr, &restErr
	if err := rest.Start(); err != nil {
		return fmt.Errorf("start pg_restore: %w", err)
	}
	derr := dump.Run()
	pw.CloseWithError(derr)
	rerr := rest.Wait()
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case derr != nil:
		return fmt.Errorf("copy the database: pg_dump: %v: %s", derr, scrubOut(dumpErr.String(), r.URL))
	case rerr != nil:
		return fmt.Errorf("copy the database: pg_restore: %v: %s", rerr, scrubOut(restErr.String(), r.URL))
	}
	return nil
}

func scrubOut(s, rawURL string) string {
	if pw := postgres.Password(rawURL); pw != "" {
		s = strings.ReplaceAll(s, pw, "xxxxx")
	}
	return strings.TrimSpace(s)
}

// childConn splits a URL into one without password and PGPASSWORD.
func childConn(raw string) (string, []string) {
	pw := postgres.Password(raw)
	u, err := url.Parse(raw)
	if pw == "" || err != nil || u.Scheme == "" {
		return raw, nil
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	q := u.Query()
	q.Del("password")
	u.RawQuery = q.Encode()
	return u.String(), []string{"PGPASSWORD=" + pw}
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

// findTool finds a PostgreSQL client program: on PATH, else the newest
// Debian install.
func findTool(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	sort.Strings(found)
	if len(found) > 0 {
		return found[len(found)-1]
	}
	return name
}

// steps runs up, down, up of each pending migration on the scratch database.
func (r *Rehearser) steps(ctx context.Context, scratch string, pending []Migration, reh *Rehearsal) error {
	db, err := Open(ctx, scratch, r.AppName)
	if err != nil {
		return err
	}
	defer db.Close()
	e := &Engine{DB: db, Dir: r.Dir, Migrations: r.Migrations, LockTimeout: 10 * time.Second, Now: r.Now}
	for _, m := range pending {
		rm := RehearsedMigration{Version: m.Version, File: m.File, DownMS: -1, UpAgainMS: -1}
		err := r.step(ctx, e, scratch, m, &rm)
		reh.Migrations = append(reh.Migrations, rm)
		if err != nil {
			return err
		}
	}
	return nil
}

// step runs up, down, up of m, and checks that the schema after up and
// down is the schema before up.
func (r *Rehearser) step(ctx context.Context, e *Engine, scratch string, m Migration, rm *RehearsedMigration) error {
	var before []string
	var err error
	if reversible(m) == nil {
		if before, err = r.dumpSchema(ctx, scratch); err != nil {
			return err
		}
	}
	if rm.UpMS, err = timed(e.Up(ctx, UpOptions{To: m.Version})); err != nil {
		return err
	}
	if reversible(m) != nil {
		r.notef("%s: up only (%v)\n", m.File, firstSentence(reversible(m)))
		return nil
	}
	if rm.DownMS, err = timed(e.Down(ctx, DownOptions{To: -1})); err != nil {
		return err
	}
	after, err := r.dumpSchema(ctx, scratch)
	if err != nil {
		return err
	}
	if d := unifiedDiff("schema before up", "schema after up and down", before, after); d != "" {
		rm.SchemaDiff = d
		return &SchemaDiffError{Version: m.Version, File: m.File, Diff: d}
	}
	rm.UpAgainMS, err = timed(e.Up(ctx, UpOptions{To: m.Version}))
	return err
}

// timed is the goose-measured time of the single migration a result holds.
func timed(res *Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	if res == nil || len(res.Applied) != 1 {
		return 0, errors.New("rehearsal: expected exactly one migration to run")
	}
	return res.Applied[0].DurationMS, nil
}

func firstSentence(err error) string {
	s, _, _ := strings.Cut(err.Error(), ":")
	return s
}
