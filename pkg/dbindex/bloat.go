package dbindex

import (
	"context"
	"fmt"
	"math"
	"sort"

	"github.com/jackc/pgx/v5"
)

// estimateSQL is ioguix's btree bloat estimator (pgsql-bloat-estimation,
// btree/btree_bloat.sql), reduced to what the report needs: from
// reltuples, the columns' average width and null fraction (pg_stats) and
// the fillfactor, the pages a fresh build would take, against relpages.
// An index whose table has no statistics gets no row.
const estimateSQL = `
SELECT idxoid, bs * relpages::bigint AS real_size,
       CASE WHEN relpages > est_pages_ff THEN bs * (relpages - est_pages_ff)::bigint ELSE 0 END AS bloat_size,
       CASE WHEN relpages > est_pages_ff THEN 100 * (relpages - est_pages_ff)::float8 / relpages ELSE 0 END AS bloat_pct
FROM (
  SELECT coalesce(1 + ceil(reltuples / floor((bs - pageopqdata - pagehdr) * fillfactor / (100 * (4 + nulldatahdrwidth)::float))), 0) AS est_pages_ff,
         bs, idxoid, relpages
  FROM (
    SELECT maxalign, bs, reltuples, relpages, idxoid, fillfactor,
           (index_tuple_hdr_bm + maxalign
              - CASE WHEN index_tuple_hdr_bm % maxalign = 0 THEN maxalign ELSE index_tuple_hdr_bm % maxalign END
              + nulldatawidth + maxalign
              - CASE WHEN nulldatawidth = 0 THEN 0
                     WHEN nulldatawidth::integer % maxalign = 0 THEN maxalign
                     ELSE nulldatawidth::integer % maxalign END
           )::numeric AS nulldatahdrwidth,
           pagehdr, pageopqdata
    FROM (
      SELECT i.reltuples, i.relpages, i.idxoid, i.fillfactor,
             current_setting('block_size')::numeric AS bs,
             CASE WHEN version() ~ 'mingw32' OR version() ~ '64-bit|x86_64|ppc64|ia64|amd64|aarch64' THEN 8 ELSE 4 END AS maxalign,
             24 AS pagehdr, 16 AS pageopqdata,
             CASE WHEN max(coalesce(s.null_frac, 0)) = 0 THEN 8 ELSE 8 + ((32 + 8 - 1) / 8) END AS index_tuple_hdr_bm,
             sum((1 - coalesce(s.null_frac, 0)) * coalesce(s.avg_width, 1024)) AS nulldatawidth
      FROM (
        SELECT ct.relname AS tblname, ct.relnamespace, ic.idxname, ic.reltuples, ic.relpages, ic.idxoid, ic.fillfactor,
               coalesce(a1.attname, a2.attname) AS attname,
               CASE WHEN a1.attnum IS NULL THEN ic.idxname ELSE ct.relname END AS attrelname
        FROM (
          SELECT idxname, reltuples, relpages, tbloid, idxoid, fillfactor, indkey, pg_catalog.generate_series(1, indnatts) AS attpos
          FROM (
            SELECT ci.relname AS idxname, ci.reltuples, ci.relpages, i.indrelid AS tbloid, i.indexrelid AS idxoid,
                   coalesce(substring(array_to_string(ci.reloptions, ' ') from 'fillfactor=([0-9]+)')::smallint, 90) AS fillfactor,
                   i.indnatts, string_to_array(textin(int2vectorout(i.indkey)), ' ')::int[] AS indkey
            FROM pg_catalog.pg_index i
            JOIN pg_catalog.pg_class ci ON ci.oid = i.indexrelid
            WHERE ci.relam = (SELECT oid FROM pg_am WHERE amname = 'btree') AND ci.relpages > 0 AND i.indisvalid
          ) AS idx_data
        ) AS ic
        JOIN pg_catalog.pg_class ct ON ct.oid = ic.tbloid
        LEFT JOIN pg_catalog.pg_attribute a1 ON ic.indkey[ic.attpos] <> 0 AND a1.attrelid = ic.tbloid AND a1.attnum = ic.indkey[ic.attpos]
        LEFT JOIN pg_catalog.pg_attribute a2 ON ic.indkey[ic.attpos] = 0 AND a2.attrelid = ic.idxoid AND a2.attnum = ic.attpos
      ) i
      JOIN pg_catalog.pg_namespace n ON n.oid = i.relnamespace
      JOIN pg_catalog.pg_stats s ON s.schemaname = n.nspname AND s.tablename = i.attrelname AND s.attname = i.attname
      GROUP BY 1, 2, 3, 4, 5, 6
    ) AS rows_data_stats
  ) AS rows_hdr_pdg_stats
) AS relation_stats`

// exactSQL measures a btree index with pgstattuple's pgstatindex: the
// pages a fresh build would take are the leaf pages at the density the
// fillfactor gives, plus the inner pages and the metapage.
const exactSQL = `
SELECT index_size,
       CASE WHEN leaf_pages = 0 OR avg_leaf_density = 'NaN' THEN 1 + internal_pages
            ELSE ceil(leaf_pages * avg_leaf_density / $2) + internal_pages + 1 END * current_setting('block_size')::bigint
FROM pgstatindex($1::oid::regclass)`

// bloat fills Bloated (btree indexes from MinBloatSize and minBloat
// percent on, largest bloat first) and NoStatistics.
func (r *Report) bloat(ctx context.Context, conn *pgx.Conn, minBloat float64) error {
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pgstattuple')").Scan(&r.Pgstattuple); err != nil {
		return err
	}
	est, err := estimates(ctx, conn)
	if err != nil {
		return err
	}
	for _, ix := range r.all {
		if !ix.valid || ix.Method != "btree" || ix.SizeBytes == 0 {
			continue
		}
		b, ok := r.measure(ctx, conn, ix, est)
		if !ok {
			r.NoStatistics = append(r.NoStatistics, ix.Label())
			continue
		}
		if ix.SizeBytes >= MinBloatSize && b.BloatPercent >= minBloat && b.BloatBytes > 0 {
			r.Bloated = append(r.Bloated, b)
		}
	}
	sort.SliceStable(r.Bloated, func(i, j int) bool { return r.Bloated[i].BloatBytes > r.Bloated[j].BloatBytes })
	return nil
}

// measure is the exact figure when pgstattuple is installed and may be
// used, else the estimate.
func (r *Report) measure(ctx context.Context, conn *pgx.Conn, ix *Index, est map[uint32]Bloated) (Bloated, bool) {
	if r.Pgstattuple {
		var size, fresh int64
		if err := conn.QueryRow(ctx, exactSQL, ix.OID, float64(ix.fillfactor)).Scan(&size, &fresh); err == nil {
			return bloated(ix, size, fresh, MethodPgstattuple), true
		}
	}
	b, ok := est[ix.OID]
	b.Index = ix
	return b, ok
}

func bloated(ix *Index, size, fresh int64, method string) Bloated {
	b := Bloated{Index: ix, BloatMethod: method}
	if size > fresh && size > 0 {
		b.BloatBytes = size - fresh
		b.BloatPercent = math.Round(1000*float64(b.BloatBytes)/float64(size)) / 10
	}
	return b
}

func estimates(ctx context.Context, conn *pgx.Conn) (map[uint32]Bloated, error) {
	rows, err := conn.Query(ctx, estimateSQL)
	if err != nil {
		return nil, fmt.Errorf("estimate index bloat: %w", err)
	}
	defer rows.Close()
	out := map[uint32]Bloated{}
	for rows.Next() {
		var oid uint32
		var size, extra int64
		var pct float64
		if err := rows.Scan(&oid, &size, &extra, &pct); err != nil {
			return nil, fmt.Errorf("estimate index bloat: %w", err)
		}
		b := Bloated{BloatMethod: MethodEstimate, BloatBytes: extra, BloatPercent: math.Round(10*pct) / 10}
		out[oid] = b
	}
	return out, rows.Err()
}
