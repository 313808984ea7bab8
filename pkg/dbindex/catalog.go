package dbindex

import (
	"context"
	"fmt"
	"regexp"
	"slices"

	"github.com/jackc/pgx/v5"
)

// indexesSQL lists the indexes of the user's schemas (plain indexes only:
// a partitioned table's index has no storage of its own) with what the
// classification needs.
const indexesSQL = `
SELECT i.indexrelid, i.indrelid, n.nspname, ct.relname, ci.relname, am.amname,
       pg_relation_size(i.indexrelid), coalesce(s.idx_scan, 0),
       i.indisvalid, i.indisunique, i.indisexclusion,
       coalesce((SELECT c.conname FROM pg_constraint c
                 WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u', 'x') LIMIT 1), ''),
       pg_get_indexdef(i.indexrelid), i.indnkeyatts, i.indkey::int2[], i.indclass::oid[], i.indcollation::oid[],
       coalesce(pg_get_expr(i.indexprs, i.indrelid), ''), coalesce(pg_get_expr(i.indpred, i.indrelid), ''),
       coalesce(substring(array_to_string(ci.reloptions, ' ') from 'fillfactor=([0-9]+)')::int, 90),
       EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid)
FROM pg_index i
JOIN pg_class ci ON ci.oid = i.indexrelid
JOIN pg_class ct ON ct.oid = i.indrelid
JOIN pg_namespace n ON n.oid = ct.relnamespace
JOIN pg_am am ON am.oid = ci.relam
LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.indexrelid
WHERE ci.relkind = 'i'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_(toast|temp_)'
ORDER BY n.nspname, ct.relname, ci.relname`

func listIndexes(ctx context.Context, conn *pgx.Conn) ([]*Index, error) {
	rows, err := conn.Query(ctx, indexesSQL)
	if err != nil {
		return nil, fmt.Errorf("list the indexes: %w", err)
	}
	defer rows.Close()
	var out []*Index
	for rows.Next() {
		ix, err := scanIndex(rows)
		if err != nil {
			return nil, fmt.Errorf("list the indexes: %w", err)
		}
		out = append(out, ix)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list the indexes: %w", err)
	}
	return out, nil
}

func scanIndex(rows pgx.Rows) (*Index, error) {
	ix := &Index{}
	var nkey int16
	var attnums []int16
	var opclasses, collations []uint32
	err := rows.Scan(&ix.OID, &ix.tableOID, &ix.Schema, &ix.Table, &ix.Name, &ix.Method,
		&ix.SizeBytes, &ix.Scans, &ix.valid, &ix.Unique, &ix.exclusion, &ix.Constraint,
		&ix.Definition, &nkey, &attnums, &opclasses, &collations, &ix.exprs, &ix.pred, &ix.fillfactor, &ix.building)
	if err != nil {
		return nil, err
	}
	for k, a := range attnums {
		if k < int(nkey) {
			ix.keys = append(ix.keys, column{attnum: a, opclass: opclasses[k], collation: collations[k]})
		} else {
			ix.include = append(ix.include, column{attnum: a})
		}
	}
	return ix, nil
}

// leftoverName is how REINDEX CONCURRENTLY names the copy it builds
// (…_ccnew) and the original it swaps out (…_ccold), with a number when
// the name is taken.
var leftoverName = regexp.MustCompile(`_cc(new|old)[0-9]*$`)

func isLeftover(name string) bool { return leftoverName.MatchString(name) }

// redundant finds, among valid indexes, the duplicates and the overlapping
// ones, each with the index that covers it.
func redundant(all []*Index) (dup, over []Redundant) {
	dup, over = []Redundant{}, []Redundant{}
	for _, a := range all {
		if !a.valid {
			continue
		}
		if b := duplicateOf(a, all); b != nil {
			dup = append(dup, Redundant{Index: a, CoveredBy: b.Label()})
		} else if b := prefixOf(a, all); b != nil {
			over = append(over, Redundant{Index: a, CoveredBy: b.Label()})
		}
	}
	return dup, over
}

// duplicateOf returns the index that a duplicates and that is kept: the
// one backing a constraint, else a unique one, else the oldest (lowest OID).
// Of a set of duplicates, all but the kept one are listed.
func duplicateOf(a *Index, all []*Index) *Index {
	var keep *Index
	for _, b := range all {
		if b.valid && sameShape(a, b) && (keep == nil || keptBefore(b, keep)) {
			keep = b
		}
	}
	if keep == a {
		return nil
	}
	return keep
}

func keptBefore(a, b *Index) bool {
	if (a.Constraint != "") != (b.Constraint != "") {
		return a.Constraint != ""
	}
	if a.Unique != b.Unique {
		return a.Unique
	}
	return a.OID < b.OID
}

func sameShape(a, b *Index) bool {
	return a.tableOID == b.tableOID && a.Method == b.Method && a.exprs == b.exprs && a.pred == b.pred &&
		slices.Equal(a.keys, b.keys) && slices.Equal(a.include, b.include)
}

// prefixOf returns a btree index whose key columns start with all of a's,
// and has more: a, neither unique nor backing a constraint, without
// expressions or INCLUDE columns, serves no query the other cannot.
func prefixOf(a *Index, all []*Index) *Index {
	if a.Method != "btree" || a.Unique || a.exclusion || a.Constraint != "" || a.exprs != "" || len(a.include) > 0 {
		return nil
	}
	for _, b := range all {
		if b != a && b.valid && b.Method == "btree" && b.tableOID == a.tableOID && b.pred == a.pred &&
			len(b.keys) > len(a.keys) && slices.Equal(b.keys[:len(a.keys)], a.keys) {
			return b
		}
	}
	return nil
}
