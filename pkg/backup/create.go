package backup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/deployctl/deployctl/pkg/history"
	"github.com/deployctl/deployctl/pkg/lock"
	"github.com/deployctl/deployctl/pkg/postgres"
	"github.com/deployctl/deployctl/pkg/provider"
)

// Engine runs backup operations against one store.
type Engine struct {
	Store provider.BackupStore
	Tools Tools
	Now   func() time.Time
	// Progress starts a byte meter for long work; nil shows nothing.
	Progress func(label string, total int64) Meter
	// Lock is the environment's lock, taken by Restore: a restore must not
	// run beside a migration or a failover. Creating, verifying and pruning
	// backups only write backups and run beside anything. nil: no lock
	// (engine tests).
	Lock *lock.Guard
	// History records create, restore and prune; nil records nothing.
	History *history.Recorder
	// Notef says that a restore read another copy of a corrupt dump
	// (backup.storage.copies); nil: silent.
	Notef func(format string, a ...any)
}

// Summary is one backup as list, create and the history show it (CLI.md).
type Summary struct {
	ID           string        `json:"id"`
	Type         string        `json:"type"` // logical or base
	CreatedAt    time.Time     `json:"created_at"`
	Label        string        `json:"label,omitempty"`
	SizeBytes    int64         `json:"size_bytes"`
	SHA256       string        `json:"sha256"`
	Verification *Verification `json:"verification"`
}

// Summary is m as list, create and the history show it.
func (m *Manifest) Summary() Summary {
	return Summary{ID: m.ID, Type: m.Kind(), CreatedAt: m.CreatedAt, Label: m.Label, SizeBytes: m.SizeBytes, SHA256: m.SHA256, Verification: m.Verification}
}

func (e *Engine) now() time.Time {
	if e.Now == nil {
		return time.Now().UTC()
	}
	return e.Now().UTC()
}

func (e *Engine) meter(label string, total int64) Meter {
	if e.Progress == nil {
		return nopMeter{}
	}
	return e.Progress(label, total)
}

// CreateOptions says what to back up.
type CreateOptions struct {
	DatabaseURL string
	Label       string
	Recipients  []string // age public keys; none: not encrypted
}

// snapshot is an open repeatable-read transaction whose snapshot pg_dump
// shares, so that the row counts and the dump see the same data.
type snapshot struct {
	conn   *pgx.Conn
	tx     pgx.Tx
	id     string
	tables []relation
}

// GooseTable is where the migrations record the schema version.
const GooseTable = "goose_db_version"

// Create dumps the database into the store and writes the manifest last;
// the new backup is recorded in the history.
func (e *Engine) Create(ctx context.Context, o CreateOptions) (*Manifest, error) {
	m, err := e.create(ctx, o)
	if err == nil {
		e.History.Record(ctx, provider.Entry{Command: "backup create", After: m.Summary(), Result: "ok"})
	}
	return m, err
}

func (e *Engine) create(ctx context.Context, o CreateOptions) (*Manifest, error) {
	recips, err := ParseRecipients(o.Recipients)
	if err != nil {
		return nil, err
	}
	start := e.now()
	m := &Manifest{ID: NewID(start), Type: TypeLogical, CreatedAt: start, Label: o.Label, Database: postgres.Redact(o.DatabaseURL),
		Format: "pg_dump custom, uncompressed", Compression: "zstd", PgDumpVersion: toolVersion(ctx, e.Tools.dump())}
	m.Object = m.ID + "/" + DumpObject
	if len(recips) > 0 {
		m.Object += ".age"
		m.Encryption = &Encryption{Method: "age"}
		for _, k := range o.Recipients {
			m.Encryption.Recipients = append(m.Encryption.Recipients, Fingerprint(k))
		}
	}
	snap, err := openSnapshot(ctx, o.DatabaseURL, m)
	if err != nil {
		return nil, err
	}
	defer snap.conn.Close(context.Background())
	if err := e.dump(ctx, o.DatabaseURL, snap, m, recips); err != nil {
		return nil, err
	}
	m.Tables = snap.counts()
	m.DurationMS = e.now().Sub(start).Milliseconds()
	raw, err := m.seal()
	if err != nil {
		return nil, err
	}
	if err := saveJSON(ctx, e.Store, m.ID+"/"+ManifestObject, raw); err != nil {
		return nil, fmt.Errorf("write the manifest: %w", err)
	}
	return m, nil
}

// NewID names a backup after its time, sortable, with a random suffix so
// that two backups in the same second differ.
func NewID(t time.Time) string {
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}

func openSnapshot(ctx context.Context, url string, m *Manifest) (*snapshot, error) {
	conn, err := postgres.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	s := &snapshot{conn: conn}
	if err := s.begin(ctx, m); err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	return s, nil
}

func (s *snapshot) begin(ctx context.Context, m *Manifest) error {
	var err error
	if m.ServerVersion, err = postgres.ServerVersion(ctx, s.conn); err != nil {
		return fmt.Errorf("read the server version: %w", err)
	}
	s.tx, err = s.conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("begin the snapshot: %w", err)
	}
	if err := s.tx.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&s.id); err != nil {
		return fmt.Errorf("export the snapshot: %w", err)
	}
	if s.tables, err = listTables(ctx, s.tx); err != nil {
		return err
	}
	if m.Settings, err = readSettings(ctx, s.tx); err != nil {
		return err
	}
	m.MigrationVersion, err = migrationVersion(ctx, s.tx)
	return err
}

// userTables are the tables whose rows pg_dump dumps: ordinary tables
// (partitions included, partitioned parents excluded) outside the system
// schemas and not owned by an extension; then the materialized views, with
// whether they are populated and their query.
const userTables = `
SELECT n.nspname, c.relname, c.relkind = 'm', NOT c.relispopulated,
       CASE WHEN c.relkind = 'm' THEN pg_get_viewdef(c.oid) ELSE '' END
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm') AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY c.relkind = 'm', 1, 2`

// relation is a table or a materialized view to count.
type relation struct {
	TableCount
	query string // of a materialized view
}

func listTables(ctx context.Context, q pgx.Tx) ([]relation, error) {
	rows, err := q.Query(ctx, userTables)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (relation, error) {
		var t relation
		var matview bool
		err := r.Scan(&t.Schema, &t.Name, &matview, &t.NoData, &t.query)
		if matview {
			t.Kind = KindMatview
		} else {
			t.NoData = false
		}
		t.query = strings.TrimRight(strings.TrimSpace(t.query), ";")
		return t, err
	})
}

func migrationVersion(ctx context.Context, q pgx.Tx) (*int64, error) {
	var v *int64
	err := q.QueryRow(ctx, `SELECT CASE WHEN to_regclass($1) IS NULL THEN NULL ELSE -1 END`, GooseTable).Scan(&v)
	if err != nil || v == nil {
		return nil, err
	}
	// goose's rule: a version's newest row says whether it is applied
	err = q.QueryRow(ctx, `SELECT max(version_id) FROM (SELECT DISTINCT ON (version_id) version_id, is_applied FROM `+
		GooseTable+` ORDER BY version_id, id DESC) v WHERE is_applied AND version_id > 0`).Scan(&v)
	return v, err
}

// count counts each table's own rows inside the snapshot, and the rows a
// restore gives each populated materialized view: a restore refreshes it,
// so its query counts, not what it last stored.
func (s *snapshot) count(ctx context.Context) error {
	for i, t := range s.tables {
		q := "SELECT count(*) FROM ONLY " + pgx.Identifier{t.Schema, t.Name}.Sanitize()
		switch {
		case t.Kind == KindMatview && t.NoData:
			continue
		case t.Kind == KindMatview:
			q = "SELECT count(*) FROM (" + t.query + ") q"
		}
		if err := s.tx.QueryRow(ctx, q).Scan(&s.tables[i].Rows); err != nil {
			return fmt.Errorf("count rows of %s: %w", t.what(), err)
		}
	}
	return nil
}

func (s *snapshot) counts() []TableCount {
	out := make([]TableCount, len(s.tables))
	for i, t := range s.tables {
		out[i] = t.TableCount
	}
	return out
}

// dump streams pg_dump → zstd → (age) → sha256 → store while the rows are
// counted in the same snapshot. Nothing of the dump touches the disk here.
func (e *Engine) dump(ctx context.Context, url string, snap *snapshot, m *Manifest, recips []age.Recipient) error {
	g, gctx := errgroup.WithContext(ctx)
	pr, pw := io.Pipe()
	g.Go(func() error {
		err := e.Store.Put(gctx, m.Object, pr)
		pr.CloseWithError(err) // unblock the writer if the store gave up
		return err
	})
	fail := func(err error) error { // before the copy runs: stop the store's Put
		pw.CloseWithError(err)
		_ = g.Wait()
		return err
	}
	enc, err := newEncoder(pw, recips)
	if err != nil {
		return fail(err)
	}
	pg := newTool(gctx, e.Tools.dump(), url, AppBackup, "--snapshot="+snap.id, "--format=custom", "--compress=0", "--no-sync")
	out, err := pg.cmd.StdoutPipe()
	if err != nil {
		enc.abort()
		return fail(err)
	}
	if err := pg.cmd.Start(); err != nil {
		enc.abort()
		return fail(fmt.Errorf("start %s: %w (install the PostgreSQL client)", e.Tools.dump(), err))
	}
	meter := e.meter("backup "+m.ID, 0)
	g.Go(func() error { return e.pipe(pg, out, enc, pw, m, meter) })
	g.Go(func() error { return snap.count(gctx) })
	err = g.Wait()
	meter.Done()
	if err != nil {
		return err
	}
	m.SizeBytes, m.SHA256 = enc.stored.n, enc.stored.sum()
	return snap.tx.Commit(ctx)
}

// pipe copies pg_dump's output through the encoder and closes the stream
// with pg_dump's result, so the store publishes only a complete dump.
func (e *Engine) pipe(pg *tool, out io.Reader, enc *encoder, pw *io.PipeWriter, m *Manifest, meter io.Writer) error {
	n, err := io.Copy(io.MultiWriter(enc, meter), out)
	m.DumpBytes = n
	if err != nil {
		pg.kill() // nobody reads its output any more
	}
	if werr := pg.err(pg.cmd.Wait()); err == nil || werr != nil {
		err = werr
	}
	if err == nil {
		err = enc.Close()
	}
	if err != nil {
		pw.CloseWithError(err)
		enc.abort()
		return err
	}
	return pw.Close()
}
