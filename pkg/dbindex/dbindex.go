// Package dbindex is index care for the environment's PostgreSQL database:
// the report of bloated, unused, duplicate, overlapping and invalid indexes
// (Inspect) and the rebuild of the bloated ones with REINDEX INDEX
// CONCURRENTLY under the environment's lock (Engine.Reindex).
package dbindex

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// How a bloat figure was obtained.
const (
	MethodEstimate    = "estimate"    // catalog and statistics (ioguix's btree estimator)
	MethodPgstattuple = "pgstattuple" // pgstatindex() read the index
)

// MinBloatSize is the smallest index whose bloat is reported: below it a
// rebuild gains nothing worth the work, and the estimate is coarse.
const MinBloatSize = 1 << 20

// Index is one index of the database as the report shows it.
type Index struct {
	OID       uint32 `json:"-"`
	Schema    string `json:"schema"`
	Table     string `json:"table"`
	Name      string `json:"index"`
	Method    string `json:"access_method"`
	SizeBytes int64  `json:"size_bytes"`
	Scans     int64  `json:"scans"`
	Unique    bool   `json:"unique"`
	// Constraint names the primary key, unique or exclusion constraint the
	// index backs; such an index cannot simply be dropped.
	Constraint string `json:"constraint,omitempty"`
	Definition string `json:"definition"`

	valid, exclusion, building bool
	tableOID                   uint32
	keys, include              []column
	exprs, pred                string
	fillfactor                 int
}

// column is one key column: its attribute number (0 for an expression),
// operator class and collation.
type column struct {
	attnum             int16
	opclass, collation uint32
}

// Qualified is schema.index, quoted for SQL.
func (i *Index) Qualified() string { return pgx.Identifier{i.Schema, i.Name}.Sanitize() }

// QualifiedTable is schema.table, quoted for SQL.
func (i *Index) QualifiedTable() string { return pgx.Identifier{i.Schema, i.Table}.Sanitize() }

// Label is schema.index for people.
func (i *Index) Label() string { return i.Schema + "." + i.Name }

// Bloated is an index with more space than a fresh build would take.
type Bloated struct {
	*Index
	BloatBytes   int64   `json:"bloat_bytes"`
	BloatPercent float64 `json:"bloat_percent"`
	BloatMethod  string  `json:"bloat_method"` // estimate | pgstattuple
}

// Redundant is an index another one makes useless: a duplicate (same
// table, columns or expressions, predicate, operator classes) or an
// overlapping one (its columns a leading prefix of the other's).
type Redundant struct {
	*Index
	CoveredBy string `json:"covered_by"` // schema.index that serves its queries
}

// Invalid is an index with pg_index.indisvalid false: a CREATE INDEX
// CONCURRENTLY or REINDEX CONCURRENTLY that failed or is still running.
type Invalid struct {
	*Index
	Leftover   bool `json:"reindex_leftover"` // named …_ccnew or …_ccold
	InProgress bool `json:"in_progress"`      // pg_stat_progress_create_index shows it being built
}

// Report is what `db indexes` shows.
type Report struct {
	Database    string     `json:"database"`
	StatsReset  *time.Time `json:"stats_reset"` // null: never reset since the cluster started counting
	Pgstattuple bool       `json:"pgstattuple"` // the extension is installed: bloat is measured
	Bloated     []Bloated  `json:"bloated"`
	// NoStatistics lists btree indexes whose table has no statistics yet
	// (never analyzed), so that their bloat cannot be estimated.
	NoStatistics []string    `json:"no_statistics"`
	Unused       []*Index    `json:"unused"`
	Duplicate    []Redundant `json:"duplicate"`
	Overlapping  []Redundant `json:"overlapping"`
	Invalid      []Invalid   `json:"invalid"`

	all []*Index
}

// Inspect reads the indexes of the database conn is connected to and
// classifies them; bloat is listed from minBloat percent on.
func Inspect(ctx context.Context, conn *pgx.Conn, minBloat float64) (*Report, error) {
	r := &Report{Bloated: []Bloated{}, NoStatistics: []string{}, Unused: []*Index{}, Duplicate: []Redundant{}, Overlapping: []Redundant{}, Invalid: []Invalid{}}
	if err := conn.QueryRow(ctx, "SELECT current_database(), (SELECT stats_reset FROM pg_stat_database WHERE datname = current_database())").Scan(&r.Database, &r.StatsReset); err != nil {
		return nil, fmt.Errorf("read the database's statistics: %w", err)
	}
	all, err := listIndexes(ctx, conn)
	if err != nil {
		return nil, err
	}
	r.all = all
	r.classify()
	if err := r.bloat(ctx, conn, minBloat); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Report) classify() {
	for _, ix := range r.all {
		switch {
		case !ix.valid:
			r.Invalid = append(r.Invalid, Invalid{Index: ix, Leftover: isLeftover(ix.Name), InProgress: ix.building})
		case ix.Scans == 0 && !ix.Unique && !ix.exclusion && ix.Constraint == "":
			r.Unused = append(r.Unused, ix)
		}
	}
	r.Duplicate, r.Overlapping = redundant(r.all)
}
