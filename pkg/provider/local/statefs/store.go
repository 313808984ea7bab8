package statefs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/deployctl/deployctl/pkg/provider"
)

// Store is a provider.StateStore of one JSON (or any) document per key in
// <dir>/<key>.json. The version of a document is a digest of its bytes, so
// a writer that read an older document cannot overwrite a newer one.
type Store struct {
	Dir string
}

var _ provider.StateStore = (*Store)(nil)

var validKey = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// Path is the file that holds key.
func (s *Store) Path(key string) string { return filepath.Join(s.Dir, key+".json") }

func checkKey(key string) error {
	if !validKey.MatchString(key) {
		return fmt.Errorf("invalid state key %q: use lower-case letters, digits, '.', '_' and '-'", key)
	}
	return nil
}

// Version is the version the Store reports for data.
func Version(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

// Load returns the document of key and its version.
func (s *Store) Load(ctx context.Context, key string) ([]byte, string, error) {
	if err := checkKey(key); err != nil {
		return nil, "", err
	}
	data, err := os.ReadFile(s.Path(key))
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", fmt.Errorf("state %q: %w", key, provider.ErrNotFound)
	}
	if err != nil {
		return nil, "", fmt.Errorf("read state: %w", err)
	}
	return data, Version(data), nil
}

// Save replaces the document of key if its version is still version ("" for
// a key never saved); otherwise it returns provider.ErrConflict.
func (s *Store) Save(ctx context.Context, key string, data []byte, version string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// A short lock per key makes read-compare-rename one step for all writers.
	lf, _, err := flockFile(filepath.Join(s.Dir, "."+key+".lock"), lockEX, true)
	if err != nil {
		return err
	}
	defer unlockFile(lf)
	cur, err := os.ReadFile(s.Path(key))
	switch {
	case errors.Is(err, os.ErrNotExist):
		if version != "" {
			return fmt.Errorf("state %q was removed meanwhile: %w", key, provider.ErrConflict)
		}
	case err != nil:
		return fmt.Errorf("read state: %w", err)
	case Version(cur) != version:
		return fmt.Errorf("state %q: %w; load it again and retry", key, provider.ErrConflict)
	}
	return WriteFileAtomic(s.Path(key), data)
}
