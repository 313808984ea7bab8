package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/deployctl/deployctl/pkg/debuglog"
	"github.com/deployctl/deployctl/pkg/postgres"
)

// GooseTable is goose's own version table; deployctl keeps it as goose
// does, so plain goose can still read the database.
const GooseTable = "goose_db_version"

// deployctl's own tables, beside goose's. deployctl_migrations has one row
// per applied (or dirty) version with the sha256 of its file;
// deployctl_migration_resolutions keeps every `migrate resolve`.
const schemaSQL = `
CREATE TABLE IF NOT EXISTS deployctl_migrations (
	version     bigint PRIMARY KEY,
	file        text NOT NULL,
	sha256      text NOT NULL,
	state       text NOT NULL DEFAULT 'applied',
	direction   text NOT NULL DEFAULT 'up',
	adopted     boolean NOT NULL DEFAULT false,
	error       text NOT NULL DEFAULT '',
	recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS deployctl_migration_resolutions (
	id          bigserial PRIMARY KEY,
	version     bigint NOT NULL,
	file        text NOT NULL,
	resolution  text NOT NULL,
	reason      text NOT NULL,
	actor       text NOT NULL,
	at          timestamptz NOT NULL DEFAULT now()
);`

// DB is an open database to migrate. The URL it was opened with may hold a
// password: Name() is the redacted form for messages.
type DB struct {
	SQL  *sql.DB
	cfg  *pgx.ConnConfig
	url  string
	name string
}

// OpenOption changes how Open sets up the database's sessions.
type OpenOption func(*pgx.ConnConfig)

// WithLockTimeout sets PostgreSQL's lock_timeout on every session: a
// statement that waits longer than d for a lock fails with SQLSTATE 55P03
// (0: no limit, PostgreSQL's default).
func WithLockTimeout(d time.Duration) OpenOption {
	return func(cfg *pgx.ConnConfig) {
		cfg.RuntimeParams["lock_timeout"] = strconv.FormatInt(d.Milliseconds(), 10)
	}
}

// Open connects to url, naming the sessions appName in pg_stat_activity
// (that is how a waiting process tells who holds the lock, and how an
// orphaned migration session is told from others). An unreachable server is
// a *provider.UnreachableError; errors never hold the password.
func Open(ctx context.Context, url, appName string, opts ...OpenOption) (*DB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("invalid database URL %s: the URL cannot be parsed", postgres.Redact(url))
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = postgres.DefaultConnectTimeout
	}
	if appName != "" {
		cfg.RuntimeParams["application_name"] = truncate(appName, 63)
	}
	for _, o := range opts {
		o(cfg)
	}
	cfg.Tracer = debuglog.Tracer{} // -v: every statement, without its arguments
	db := stdlib.OpenDB(*cfg)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, postgres.ConnectError(url, err)
	}
	return &DB{SQL: db, cfg: cfg, url: url, name: postgres.Redact(url)}, nil
}

// Name is the database URL without its password.
func (d *DB) Name() string { return d.name }

// appName is the application_name of this DB's sessions.
func (d *DB) appName() string { return d.cfg.RuntimeParams["application_name"] }

// lockTimeout is the lock_timeout of this DB's sessions, 0 when unset.
func (d *DB) lockTimeout() time.Duration {
	ms, err := strconv.ParseInt(d.cfg.RuntimeParams["lock_timeout"], 10, 64)
	if err != nil {
		return 0
	}
	return time.Duration(ms) * time.Millisecond
}

// Close closes every connection.
func (d *DB) Close() error { return d.SQL.Close() }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func (d *DB) tableExists(ctx context.Context, name string) (bool, error) {
	var ok bool
	err := d.SQL.QueryRowContext(ctx, "SELECT to_regclass($1) IS NOT NULL", name).Scan(&ok)
	return ok, err
}

func (d *DB) ensureSchema(ctx context.Context) error {
	_, err := d.SQL.ExecContext(ctx, schemaSQL)
	return err
}

// Record is deployctl's row for one version.
type Record struct {
	Version    int64     `json:"version"`
	File       string    `json:"file"`
	SHA256     string    `json:"sha256"`
	State      string    `json:"state"` // applied | dirty
	Direction  string    `json:"direction"`
	Adopted    bool      `json:"adopted"`
	Error      string    `json:"error,omitempty"`
	RecordedAt time.Time `json:"recorded_at"`
}

// State is what the database says: goose's applied versions and
// deployctl's records. Reading it never creates a table.
type State struct {
	Applied  map[int64]time.Time // version → applied at (goose)
	Records  map[int64]Record
	HasGoose bool
	HasOwn   bool
}

// Current is the highest applied version, 0 when none.
func (s *State) Current() int64 {
	var cur int64
	for v := range s.Applied {
		cur = max(cur, v)
	}
	return cur
}

// Dirty lists the dirty records, by version.
func (s *State) Dirty() []Record {
	var out []Record
	for _, r := range s.Records {
		if r.State == "dirty" {
			out = append(out, r)
		}
	}
	sortRecords(out)
	return out
}

// ReadState reads goose's and deployctl's tables without changing anything.
func (d *DB) ReadState(ctx context.Context) (*State, error) {
	st := &State{Applied: map[int64]time.Time{}, Records: map[int64]Record{}}
	var err error
	if st.HasGoose, err = d.tableExists(ctx, GooseTable); err != nil {
		return nil, err
	}
	if st.HasGoose {
		if err := d.readGoose(ctx, st); err != nil {
			return nil, err
		}
	}
	if st.HasOwn, err = d.tableExists(ctx, "deployctl_migrations"); err != nil {
		return nil, err
	}
	if st.HasOwn {
		if err := d.readOwn(ctx, st); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// readGoose replays goose's table: the newest row of a version says whether
// it is applied (old goose versions wrote is_applied=false rows on down).
func (d *DB) readGoose(ctx context.Context, st *State) error {
	rows, err := d.SQL.QueryContext(ctx, "SELECT version_id, is_applied, tstamp FROM "+GooseTable+" ORDER BY id")
	if err != nil {
		return fmt.Errorf("read %s: %w", GooseTable, err)
	}
	defer rows.Close()
	for rows.Next() {
		var v int64
		var applied bool
		var at time.Time
		if err := rows.Scan(&v, &applied, &at); err != nil {
			return err
		}
		if v == 0 {
			continue
		}
		if applied {
			st.Applied[v] = at
		} else {
			delete(st.Applied, v)
		}
	}
	return rows.Err()
}

func (d *DB) readOwn(ctx context.Context, st *State) error {
	rows, err := d.SQL.QueryContext(ctx, "SELECT version, file, sha256, state, direction, adopted, error, recorded_at FROM deployctl_migrations")
	if err != nil {
		return fmt.Errorf("read deployctl_migrations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r Record
		if err := rows.Scan(&r.Version, &r.File, &r.SHA256, &r.State, &r.Direction, &r.Adopted, &r.Error, &r.RecordedAt); err != nil {
			return err
		}
		st.Records[r.Version] = r
	}
	return rows.Err()
}

func (d *DB) upsertRecord(ctx context.Context, r Record) error {
	_, err := d.SQL.ExecContext(ctx, `INSERT INTO deployctl_migrations (version, file, sha256, state, direction, adopted, error, recorded_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,now())
		ON CONFLICT (version) DO UPDATE SET file=$2, sha256=$3, state=$4, direction=$5, adopted=$6, error=$7, recorded_at=now()`,
		r.Version, r.File, r.SHA256, r.State, r.Direction, r.Adopted, r.Error)
	return err
}

func (d *DB) deleteRecord(ctx context.Context, version int64) error {
	_, err := d.SQL.ExecContext(ctx, "DELETE FROM deployctl_migrations WHERE version = $1", version)
	return err
}

var errNoRowsSQL = sql.ErrNoRows
