package migrate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
)

// RehearsedMigration is one migration of a rehearsal with the time of each
// step. DownMS and UpAgainMS are -1 when the migration has no down section
// or is marked irreversible (only up is rehearsed then).
type RehearsedMigration struct {
	Version   int64  `json:"version"`
	File      string `json:"file"`
	UpMS      int64  `json:"up_ms"`
	DownMS    int64  `json:"down_ms"`
	UpAgainMS int64  `json:"up_again_ms"`
	// SchemaDiff is the unified diff between the schema before up and after
	// up and down, when the down section does not undo the up.
	SchemaDiff string `json:"schema_diff,omitempty"`
}

// Rehearsal is the result of `migrate rehearse` for one set of pending
// migrations (SetHash), as the checklist reads it.
type Rehearsal struct {
	SetHash    string               `json:"set_hash"`
	OK         bool                 `json:"ok"`
	At         time.Time            `json:"at"`
	Database   string               `json:"database"` // the source, redacted
	Migrations []RehearsedMigration `json:"migrations"`
	Error      string               `json:"error,omitempty"`
}

// RehearsalKey is the state-store key of the rehearsal of a migration set:
// "migrate.rehearsal.<set hash>". Dots, not slashes: the local state store
// and Kubernetes ConfigMap keys allow only [-._a-z0-9].
func RehearsalKey(setHash string) string { return "migrate.rehearsal." + setHash }

// ErrNotFound is returned by LoadRehearsal when the set was never rehearsed.
var ErrNotFound = provider.ErrNotFound

// SaveRehearsal stores r under RehearsalKey(r.SetHash), replacing an older
// rehearsal of the same set.
func SaveRehearsal(ctx context.Context, store provider.StateStore, r *Rehearsal) error {
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	key := RehearsalKey(r.SetHash)
	for range 3 {
		_, version, err := store.Load(ctx, key)
		if err != nil && !errors.Is(err, provider.ErrNotFound) {
			return fmt.Errorf("read %s: %w", key, err)
		}
		err = store.Save(ctx, key, raw, version)
		if !errors.Is(err, provider.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("save %s: %w", key, provider.ErrConflict)
}

// LoadRehearsal returns the rehearsal of the set hash, or ErrNotFound.
func LoadRehearsal(ctx context.Context, store provider.StateStore, hash string) (*Rehearsal, error) {
	raw, _, err := store.Load(ctx, RehearsalKey(hash))
	if err != nil {
		return nil, err
	}
	var r Rehearsal
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("rehearsal %s: %w", hash, err)
	}
	return &r, nil
}
