// Package backup takes, lists, verifies, restores and prunes logical
// backups of a PostgreSQL database in a provider.BackupStore.
//
// A backup is a folder of objects named after its id: the dump
// (<id>/dump.zst, or dump.zst.age when encrypted), the manifest
// (<id>/manifest.json, written last: a backup without one does not exist)
// and the result of its last verification (<id>/verify.json).
package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
)

// Object names inside a backup's folder.
const (
	ManifestObject = "manifest.json"
	VerifyObject   = "verify.json"
	DumpObject     = "dump.zst"
)

// Verification levels, from cheapest to most convincing.
const (
	LevelChecksum = "checksum" // size and sha256 of the stored dump
	LevelArchive  = "archive"  // pg_restore reads the whole archive
	LevelRestore  = "restore"  // restored into a scratch database, row counts compared
)

// Verification is the result of the last verification of a backup.
type Verification struct {
	Level  string    `json:"level"`
	OK     bool      `json:"ok"`
	At     time.Time `json:"at"`
	Detail string    `json:"detail,omitempty"`
}

// KindMatview marks a materialized view in the manifest's tables.
const KindMatview = "materialized view"

// TableCount is the number of rows of one table in the backup's snapshot.
// For a materialized view (Kind KindMatview) it is the number of rows a
// restore gives it: its query's rows in the snapshot (the restore refreshes
// it), or none and NoData for a view created WITH NO DATA, which a restore
// leaves unpopulated.
type TableCount struct {
	Schema string `json:"schema"`
	Name   string `json:"name"`
	Rows   int64  `json:"rows"`
	Kind   string `json:"kind,omitempty"`    // "" for a table
	NoData bool   `json:"no_data,omitempty"` // a materialized view not populated
}

// QualifiedName is "schema.name" for messages.
func (t TableCount) QualifiedName() string { return t.Schema + "." + t.Name }

// what is "table public.x" or "materialized view public.x" for messages.
func (t TableCount) what() string { return or(t.Kind, "table") + " " + t.QualifiedName() }

// Encryption says how the dump is encrypted; nil in a manifest means not.
type Encryption struct {
	Method     string   `json:"method"`     // "age"
	Recipients []string `json:"recipients"` // sha256 fingerprints of the public keys
}

// Manifest describes one complete backup.
type Manifest struct {
	ID string `json:"id"`
	// Type is TypeLogical (a pg_dump; "" in manifests of older versions)
	// or TypeBase (a pg_basebackup, described by Base).
	Type             string       `json:"type,omitempty"`
	Base             *BaseInfo    `json:"base,omitempty"`
	CreatedAt        time.Time    `json:"created_at"`
	Label            string       `json:"label,omitempty"`
	Database         string       `json:"database"` // the source, password redacted
	ServerVersion    string       `json:"server_version"`
	PgDumpVersion    string       `json:"pg_dump_version"`
	Object           string       `json:"object"`     // the stored dump
	SizeBytes        int64        `json:"size_bytes"` // of the stored dump
	SHA256           string       `json:"sha256"`     // of the stored dump
	DumpBytes        int64        `json:"dump_bytes"` // pg_dump's output before compression
	Format           string       `json:"format"`     // "pg_dump custom, uncompressed"
	Compression      string       `json:"compression"`
	Encryption       *Encryption  `json:"encryption"`
	MigrationVersion *int64       `json:"migration_version"`
	Tables           []TableCount `json:"tables"`
	// Settings are the database-level settings and comment, which a dump
	// without --create does not hold; nil in backups of older versions.
	Settings     *DatabaseSettings `json:"database_settings,omitempty"`
	DurationMS   int64             `json:"duration_ms"`
	Checksum     string            `json:"manifest_sha256"` // of this document with this field empty
	Verification *Verification     `json:"verification"`    // from verify.json, not stored here
}

// Rows is the total row count.
func (m *Manifest) Rows() int64 {
	var n int64
	for _, t := range m.Tables {
		n += t.Rows
	}
	return n
}

// seal computes the manifest's own checksum, which Load compares to find a
// manifest changed after it was written.
func (m *Manifest) seal() ([]byte, error) {
	m.Checksum, m.Verification = "", nil
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	m.Checksum = hex.EncodeToString(sum[:])
	return json.MarshalIndent(m, "", "  ")
}

// CheckManifest returns a *ProblemError when m's manifest_sha256 does not
// match its content (edited or damaged after it was written); verify
// reports it and restore refuses such a backup with it.
func CheckManifest(m *Manifest) error {
	if m.sealed() {
		return nil
	}
	return problemf("the manifest of %s was changed after it was written (its manifest_sha256 does not match)", m.ID)
}

// sealed reports whether the checksum still matches the content.
func (m Manifest) sealed() bool {
	want := m.Checksum
	cp := m
	if _, err := cp.seal(); err != nil {
		return false
	}
	return cp.Checksum == want
}

// ErrNoBackup is returned when the asked backup does not exist.
var ErrNoBackup = errors.New("no such backup")

// Catalog is what a store holds: complete backups (newest first), folders
// whose manifest cannot be read, and orphans (objects without a manifest:
// an interrupted create or delete).
type Catalog struct {
	Backups []Manifest
	Broken  map[string]string // id → why its manifest is unreadable
	Orphans []Orphan
}

// Orphan is a folder of objects without a manifest.
type Orphan struct {
	ID      string    `json:"id"`
	Objects []string  `json:"objects"`
	Bytes   int64     `json:"bytes"`
	Newest  time.Time `json:"newest"`
}

// List returns the complete backups in store, newest first, each with its
// last verification (nil when never verified).
func List(ctx context.Context, store provider.BackupStore) ([]Manifest, error) {
	c, err := Scan(ctx, store)
	if err != nil {
		return nil, err
	}
	return c.Backups, nil
}

// Scan reads the whole store.
func Scan(ctx context.Context, store provider.BackupStore) (*Catalog, error) {
	objs, err := store.List(ctx, "")
	if err != nil {
		return nil, err
	}
	folders := map[string][]provider.Object{}
	var ids []string
	for _, o := range objs {
		id, _, ok := strings.Cut(o.Name, "/")
		if !ok || id == WALFolder {
			continue // not ours, or the WAL archive (pkg/wal)
		}
		if _, seen := folders[id]; !seen {
			ids = append(ids, id)
		}
		folders[id] = append(folders[id], o)
	}
	c := &Catalog{Broken: map[string]string{}}
	for _, id := range ids {
		if err := c.add(ctx, store, id, folders[id]); err != nil {
			return nil, err
		}
	}
	sort.SliceStable(c.Backups, func(i, j int) bool { return newer(c.Backups[i], c.Backups[j]) })
	return c, nil
}

func newer(a, b Manifest) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return a.ID > b.ID
}

func (c *Catalog) add(ctx context.Context, store provider.BackupStore, id string, objs []provider.Object) error {
	if !hasObject(objs, id+"/"+ManifestObject) {
		o := Orphan{ID: id}
		for _, ob := range objs {
			o.Objects = append(o.Objects, ob.Name)
			o.Bytes += ob.Size
			if ob.ModTime.After(o.Newest) {
				o.Newest = ob.ModTime
			}
		}
		c.Orphans = append(c.Orphans, o)
		return nil
	}
	m, err := Load(ctx, store, id)
	var unreach *provider.UnreachableError
	switch {
	case errors.As(err, &unreach), errors.Is(err, context.Canceled):
		return err
	case err != nil:
		c.Broken[id] = err.Error()
		return nil
	}
	c.Backups = append(c.Backups, *m)
	return nil
}

func hasObject(objs []provider.Object, name string) bool {
	for _, o := range objs {
		if o.Name == name {
			return true
		}
	}
	return false
}

// Load reads the manifest of id and its last verification.
func Load(ctx context.Context, store provider.BackupStore, id string) (*Manifest, error) {
	raw, err := getAll(ctx, store, id+"/"+ManifestObject, 64<<20)
	if errors.Is(err, provider.ErrNotFound) {
		return nil, fmt.Errorf("%w %q: see 'deployctl backup list'", ErrNoBackup, id)
	}
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("manifest of %s is not valid JSON: %v", id, err)
	}
	if m.ID != id {
		return nil, fmt.Errorf("manifest of %s names another backup (%q)", id, m.ID)
	}
	m.Verification = nil
	if v, err := loadVerification(ctx, store, id); err == nil {
		m.Verification = v
	} else if !errors.Is(err, provider.ErrNotFound) {
		return nil, err
	}
	return &m, nil
}

func loadVerification(ctx context.Context, store provider.BackupStore, id string) (*Verification, error) {
	raw, err := getAll(ctx, store, id+"/"+VerifyObject, 1<<20)
	if err != nil {
		return nil, err
	}
	var v Verification
	if err := json.Unmarshal(raw, &v); err != nil {
		return &Verification{OK: false, Detail: "verify.json is unreadable: " + err.Error()}, nil
	}
	return &v, nil
}

func getAll(ctx context.Context, store provider.BackupStore, name string, limit int64) ([]byte, error) {
	rc, err := store.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, limit))
}

// Resolve finds the backup ref names: an id, or "latest" (or "") for the
// newest.
func Resolve(ctx context.Context, store provider.BackupStore, ref string) (*Manifest, error) {
	if ref != "" && ref != "latest" {
		return Load(ctx, store, ref)
	}
	all, err := List(ctx, store)
	if err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("%w: the storage holds no backup yet; take one with 'deployctl backup create'", ErrNoBackup)
	}
	return &all[0], nil
}

// saveJSON publishes v as name.
func saveJSON(ctx context.Context, store provider.BackupStore, name string, raw []byte) error {
	return store.Put(ctx, name, bytes.NewReader(raw))
}

// SaveVerification stores v as the last verification of id.
func SaveVerification(ctx context.Context, store provider.BackupStore, id string, v Verification) error {
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return saveJSON(ctx, store, id+"/"+VerifyObject, raw)
}

// IncompleteGrace is how long `verify latest` takes a folder without a
// manifest, newer than the newest backup, for a create in progress; older,
// it is a create that failed, and the newest backup is missing.
const IncompleteGrace = time.Hour

// Latest returns the backup `verify latest` verifies: the newest backup
// folder, whatever its state. When the newest folder's manifest cannot be
// read, or a folder without a manifest older than grace is newer than the
// newest complete backup, it returns a *ProblemError naming that folder
// rather than falling back to an older backup. Folders are ordered by id,
// which starts with the backup's time.
func (c *Catalog) Latest(now time.Time, grace time.Duration) (*Manifest, error) {
	var newest *Manifest
	if len(c.Backups) > 0 {
		newest = &c.Backups[0]
	}
	newer := func(id string) bool { return newest == nil || id > newest.ID }
	var worst string // the newest failing folder's id
	var why string
	for id, reason := range c.Broken {
		if newer(id) && id > worst {
			worst, why = id, fmt.Sprintf("the newest backup %s has a manifest that cannot be read (%s); it is not verified and no older backup is taken instead", id, reason)
		}
	}
	for _, o := range c.Orphans {
		age := now.Sub(o.Newest)
		if newer(o.ID) && age >= grace && o.ID > worst {
			worst, why = o.ID, fmt.Sprintf("the newest backup %s is incomplete: no manifest, last written %s ago (more than %s: a create that failed or was killed); no older backup is taken instead",
				o.ID, age.Round(time.Second), grace)
		}
	}
	switch {
	case worst != "":
		return nil, &ProblemError{Msg: why}
	case newest == nil:
		return nil, fmt.Errorf("%w: the storage holds no backup yet; take one with 'deployctl backup create'", ErrNoBackup)
	}
	return newest, nil
}
