package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
)

// LockKey is the session advisory lock every changing migrate command takes
// (per database, as PostgreSQL scopes advisory locks). It is below 2^32 so
// it shows in pg_locks as classid 0, objid LockKey.
const LockKey int64 = 0x6d696772 // "migr"

// DefaultLockTimeout bounds the wait for another migrate to finish.
const DefaultLockTimeout = time.Minute

var lockPoll = 100 * time.Millisecond

// AppName is the application_name of deployctl's sessions, so that
// pg_stat_activity (and a waiting deployctl) shows who runs a migration.
// PostgreSQL keeps 63 bytes: the pid comes first so it survives.
func AppName(h provider.Holder) string {
	host, _, _ := strings.Cut(h.Host, ".")
	return truncate(fmt.Sprintf("deployctl pid %d %s by %s@%s", h.PID, h.Command, h.Actor, host), 63)
}

var appNameRE = regexp.MustCompile(`^deployctl pid (\d+) (.+?) by ([^@]*)@?(.*)$`)

// parseHolder reads a holder back from an application_name.
func parseHolder(app string, backendPID int, since time.Time, client string) provider.Holder {
	h := provider.Holder{Actor: "unknown", Host: client, PID: backendPID, Command: app, Since: since}
	if m := appNameRE.FindStringSubmatch(app); m != nil {
		h.PID, _ = strconv.Atoi(m[1])
		h.Command, h.Actor, h.Host = m[2], m[3], m[4]
	} else if app != "" {
		h.Command = app + " (backend pid " + strconv.Itoa(backendPID) + ")"
	}
	return h
}

// Lock takes the migration lock on a session of its own, waiting at most
// timeout; onWait is told once who holds it. Release unlocks (or ends the
// session); a session-level lock also goes when the process dies. When the wait runs out the
// error is a *provider.LockedError naming the holder.
func (d *DB) Lock(ctx context.Context, timeout time.Duration, onWait func(provider.Holder)) (release func(), err error) {
	conn, err := d.SQL.Conn(ctx) // a session of its own, pinned until release
	if err != nil {
		return nil, lockErr(ctx, err)
	}
	release = func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(cctx, internalTag+"SELECT pg_advisory_unlock($1)", LockKey); err != nil {
			// End the session instead: that releases the lock too.
			_ = conn.Raw(func(dc any) error { return dc.(io.Closer).Close() })
		}
		_ = conn.Close()
	}
	deadline := time.Now().Add(timeout)
	told := false
	for {
		var ok bool
		if err := conn.QueryRowContext(ctx, internalTag+"SELECT pg_try_advisory_lock($1)", LockKey).Scan(&ok); err != nil {
			release()
			return nil, lockErr(ctx, err)
		}
		if ok {
			return release, nil
		}
		if !told && onWait != nil {
			if h, err := d.Holder(ctx); err == nil && h != nil {
				onWait(*h)
				told = true
			}
		}
		if time.Now().After(deadline) {
			release()
			return nil, d.lockedError(ctx)
		}
		select {
		case <-ctx.Done():
			release()
			return nil, ctx.Err()
		case <-time.After(lockPoll):
		}
	}
}

// lockedError names who holds the lock now, as well as it can be told.
func (d *DB) lockedError(ctx context.Context) error {
	h, err := d.Holder(ctx)
	if err != nil || h == nil {
		h = &provider.Holder{Actor: "another session", Host: "unknown", Command: "migrate", Since: time.Now().UTC()}
	}
	return &provider.LockedError{Holder: *h}
}

func lockErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("take the migration lock: %w", err)
}

// Holder says who holds the migration lock now, nil when nobody does.
func (d *DB) Holder(ctx context.Context) (*provider.Holder, error) {
	var (
		pid    int
		app    string
		since  time.Time
		client string
	)
	err := d.SQL.QueryRowContext(ctx, internalTag+`SELECT a.pid, coalesce(a.application_name, ''), a.backend_start, coalesce(host(a.client_addr), 'local')
		FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = $1 AND l.objsubid = 1
		  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		LIMIT 1`, LockKey).Scan(&pid, &app, &since, &client)
	if errors.Is(err, errNoRowsSQL) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	h := parseHolder(app, pid, since, client)
	return &h, nil
}
