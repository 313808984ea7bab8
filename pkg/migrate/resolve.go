package migrate

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/deployctl/deployctl/pkg/history"
	"github.com/deployctl/deployctl/pkg/provider"
)

// Resolution is the outcome of Resolve.
type Resolution struct {
	Version    int64  `json:"version"`
	File       string `json:"file"`
	Resolution string `json:"resolution"` // applied | rolled-back
	Was        string `json:"was"`        // dirty-up | dirty-down | changed
	Reason     string `json:"reason"`
	Actor      string `json:"actor"`
}

// Resolve clears a dirty mark after an operator has looked: applied says the
// migration's effect is in place (goose's version row is written), otherwise
// it is not (the row is removed). On a clean applied migration whose file was
// edited, applied accepts the edit by recording the new checksum. Every
// resolution is kept in deployctl_migration_resolutions.
func (e *Engine) Resolve(ctx context.Context, version int64, applied bool, reason, actor string) (*Resolution, error) {
	out := &Resolution{Version: version, Reason: reason, Actor: actor, Resolution: "rolled-back"}
	if applied {
		out.Resolution = "applied"
	}
	err := e.changing(ctx, "migrate resolve", func(st *State) error {
		r, ok := st.Records[version]
		m, hasFile := e.byVersion(version)
		switch {
		case ok && r.State == "dirty":
			out.Was = "dirty-" + r.Direction
		case ok && applied && hasFile && r.SHA256 != m.SHA256:
			out.Was = "changed"
		default:
			return fmt.Errorf("nothing to resolve for version %d: it is neither dirty nor an applied file edited since it ran ('deployctl migrate status' shows both)", version)
		}
		out.File = r.File
		if hasFile {
			out.File = m.File
		}
		return e.resolveTx(ctx, out, m, hasFile)
	}, out.entry)
	return out, err
}

func (e *Engine) resolveTx(ctx context.Context, res *Resolution, m Migration, hasFile bool) error {
	tx, err := e.DB.SQL.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := setGooseVersion(ctx, tx, res.Version, res.Resolution == "applied"); err != nil {
		return err
	}
	if res.Resolution == "applied" {
		sum := m.SHA256
		if !hasFile {
			return fmt.Errorf("the file of version %d is not in %s: restore it before resolving it as applied", res.Version, e.Dir)
		}
		_, err = tx.ExecContext(ctx, `UPDATE deployctl_migrations SET state = 'applied', direction = 'up', sha256 = $2, file = $3, error = '', recorded_at = now() WHERE version = $1`, res.Version, sum, m.File)
	} else {
		_, err = tx.ExecContext(ctx, "DELETE FROM deployctl_migrations WHERE version = $1", res.Version)
	}
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO deployctl_migration_resolutions (version, file, resolution, reason, actor) VALUES ($1, $2, $3, $4, $5)`,
		res.Version, res.File, res.Resolution+" (was "+res.Was+")", res.Reason, res.Actor)
	if err != nil {
		return err
	}
	return tx.Commit()
}

// setGooseVersion makes goose's table say version is applied or not.
func setGooseVersion(ctx context.Context, tx *sql.Tx, version int64, applied bool) error {
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM "+GooseTable+" WHERE version_id = $1 AND is_applied", version).Scan(&n); err != nil {
		return fmt.Errorf("read %s: %w", GooseTable, err)
	}
	var err error
	switch {
	case applied && n == 0:
		_, err = tx.ExecContext(ctx, "INSERT INTO "+GooseTable+" (version_id, is_applied) VALUES ($1, true)", version)
	case !applied && n > 0:
		_, err = tx.ExecContext(ctx, "DELETE FROM "+GooseTable+" WHERE version_id = $1", version)
	}
	return err
}

// entry is the history entry of a resolution, failed or not.
func (r *Resolution) entry(err error) (provider.Entry, bool) {
	if err != nil {
		return provider.Entry{Result: history.Result(err), Detail: err.Error()}, true
	}
	return provider.Entry{Result: "ok", Detail: r.File,
		Before: map[string]any{"version": r.Version, "state": r.Was},
		After:  map[string]any{"version": r.Version, "state": r.Resolution}}, true
}
