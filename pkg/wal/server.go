package wal

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deployctl/deployctl/pkg/provider"
)

// PG reads the archiver's state from the PostgreSQL server at URL.
type PG struct {
	URL string
}

// Archiver reads pg_stat_archiver, archive_mode and archive_timeout, and
// counts the .ready files when the role may list them.
func (p PG) Archiver(ctx context.Context) (*ArchiverStats, error) {
	conn, err := pgx.Connect(ctx, p.URL)
	if err != nil {
		return nil, provider.Unreachable("database", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	s := &ArchiverStats{Ready: -1}
	var timeoutSec int64
	err = conn.QueryRow(ctx, `SELECT current_setting('archive_mode'),
		extract(epoch FROM current_setting('archive_timeout')::interval)::bigint,
		archived_count, coalesce(last_archived_wal, ''), last_archived_time,
		failed_count, coalesce(last_failed_wal, ''), last_failed_time,
		CASE WHEN pg_is_in_recovery() THEN '' ELSE pg_walfile_name(pg_current_wal_lsn()) END
		FROM pg_stat_archiver`).Scan(&s.ArchiveMode, &timeoutSec, &s.ArchivedCount, &s.LastArchivedWAL, &s.LastArchivedTime,
		&s.FailedCount, &s.LastFailedWAL, &s.LastFailedTime, &s.CurrentWAL)
	if err != nil {
		return nil, fmt.Errorf("read pg_stat_archiver: %w", err)
	}
	s.ArchiveTimeout = time.Duration(timeoutSec) * time.Second
	var ready int
	// pg_ls_archive_statusdir needs superuser or pg_monitor; without it the
	// count is unknown (-1), which is not a failure.
	if conn.QueryRow(ctx, `SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'`).Scan(&ready) == nil {
		s.Ready = ready
	}
	return s, nil
}
