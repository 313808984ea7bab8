package backup

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"
	"golang.org/x/sync/errgroup"

	"github.com/deployctl/deployctl/pkg/postgres"
	"github.com/deployctl/deployctl/pkg/provider"
)

// Backup types (Manifest.Type).
const (
	TypeLogical = "logical" // pg_dump of one database
	TypeBase    = "base"    // pg_basebackup of the whole cluster, for point-in-time restore
)

// Objects of a base backup's folder.
const (
	BaseObject         = "base.tar.zst"        // pg_basebackup -Ft -D -: the data folder, its WAL and backup_manifest
	PgManifestObject   = "backup_manifest.zst" // PostgreSQL's own backup_manifest, also inside the tar
	pgManifestName     = "backup_manifest"
	backupLabelName    = "backup_label"
	maxPgManifestBytes = 256 << 20
)

// WALFolder is the top-level folder of the store where pkg/wal archives
// the WAL: not a backup, and never an orphan for prune to delete.
const WALFolder = "wal"

// Kind is m's type, TypeLogical for manifests written before types existed.
func (m *Manifest) Kind() string { return or(m.Type, TypeLogical) }

// BaseInfo describes a base backup: where in the WAL it starts and where it
// becomes consistent, on which server.
type BaseInfo struct {
	StartLSN  string    `json:"start_lsn"`
	StopLSN   string    `json:"stop_lsn"` // the restored copy is consistent from here on
	StartWAL  string    `json:"start_wal"`
	StartTime time.Time `json:"start_time"` // the server's clock
	// StopTime is the server's clock right after pg_basebackup ended: a
	// restore to a time after it can start from this backup.
	StopTime         time.Time `json:"stop_time"`
	Timeline         int       `json:"timeline"`
	SystemIdentifier string    `json:"system_identifier"`
	// WALIncluded says the WAL from StartLSN to StopLSN is inside the tar
	// (pg_basebackup -X fetch): the backup restores without the archive.
	WALIncluded bool          `json:"wal_included"`
	Tool        string        `json:"pg_basebackup_version"`
	Files       []StoredFile  `json:"files"`
	Tablespaces []string      `json:"tablespaces,omitempty"`
	DataBytes   int64         `json:"data_bytes"` // of the tar before compression
	PgManifest  *PgManifestID `json:"backup_manifest"`
}

// PgManifestID names PostgreSQL's backup_manifest and its own checksum.
type PgManifestID struct {
	Object   string `json:"object"`
	Checksum string `json:"manifest_checksum"` // its Manifest-Checksum field
	Files    int    `json:"files"`             // data files it lists
}

// StoredFile is one object of a backup as stored: its size and sha256.
type StoredFile struct {
	Object    string `json:"object"`
	SizeBytes int64  `json:"size_bytes"`
	SHA256    string `json:"sha256"`
	RawBytes  int64  `json:"raw_bytes"` // before compression and encryption
}

// BaseOptions says what base backup to take.
type BaseOptions struct {
	DatabaseURL string // any database of the cluster; the role needs REPLICATION
	Label       string
	Recipients  []string
}

// CreateBase takes a base backup of the cluster of o.DatabaseURL with
// pg_basebackup (tar format, WAL fetched into it, fast checkpoint) streamed
// through zstd (and age) into the store, PostgreSQL's backup_manifest
// beside it, and the manifest last. The new backup is recorded in the
// history.
func (e *Engine) CreateBase(ctx context.Context, o BaseOptions) (*Manifest, error) {
	m, err := e.createBase(ctx, o)
	if err == nil {
		e.History.Record(ctx, provider.Entry{Command: "backup create", After: m.Summary(), Result: "ok"})
	}
	return m, err
}

func (e *Engine) createBase(ctx context.Context, o BaseOptions) (*Manifest, error) {
	recips, err := ParseRecipients(o.Recipients)
	if err != nil {
		return nil, err
	}
	start := e.now()
	m := &Manifest{ID: NewID(start), Type: TypeBase, CreatedAt: start, Label: o.Label, Database: postgres.Redact(o.DatabaseURL),
		Format: "pg_basebackup tar, WAL included", Compression: "zstd", Tables: []TableCount{},
		Base: &BaseInfo{Tool: toolVersion(ctx, e.Tools.basebackup()), WALIncluded: true}}
	m.Object = m.ID + "/" + BaseObject
	if len(recips) > 0 {
		m.Object += ".age"
		m.Encryption = &Encryption{Method: "age"}
		for _, k := range o.Recipients {
			m.Encryption.Recipients = append(m.Encryption.Recipients, Fingerprint(k))
		}
	}
	if err := readCluster(ctx, o.DatabaseURL, m); err != nil {
		return nil, err
	}
	insp, err := e.streamBase(ctx, o.DatabaseURL, m, recips)
	if err != nil {
		return nil, err
	}
	if err := insp.fill(m); err != nil {
		return nil, err
	}
	if m.Base.StopTime, err = serverNow(ctx, o.DatabaseURL); err != nil {
		return nil, err
	}
	if err := e.putSmall(ctx, m, PgManifestObject, insp.manifest, recips); err != nil {
		return nil, fmt.Errorf("store PostgreSQL's backup_manifest: %w", err)
	}
	m.DurationMS = e.now().Sub(start).Milliseconds()
	raw, err := m.seal()
	if err != nil {
		return nil, err
	}
	if err := saveJSON(ctx, e.Store, m.ID+"/"+ManifestObject, raw); err != nil {
		return nil, fmt.Errorf("write the manifest: %w", err)
	}
	return m, nil
}

// readCluster records the server's version and system identifier.
func readCluster(ctx context.Context, url string, m *Manifest) error {
	conn, err := postgres.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if m.ServerVersion, err = postgres.ServerVersion(ctx, conn); err != nil {
		return fmt.Errorf("read the server version: %w", err)
	}
	if err := conn.QueryRow(ctx, "SELECT system_identifier::text FROM pg_control_system()").Scan(&m.Base.SystemIdentifier); err != nil {
		return fmt.Errorf("read the system identifier: %w", err)
	}
	return nil
}

func serverNow(ctx context.Context, url string) (time.Time, error) {
	conn, err := postgres.Connect(ctx, url)
	if err != nil {
		return time.Time{}, err
	}
	defer conn.Close(context.Background())
	var t time.Time
	if err := conn.QueryRow(ctx, "SELECT clock_timestamp()").Scan(&t); err != nil {
		return t, fmt.Errorf("read the server's clock: %w", err)
	}
	return t.UTC(), nil
}

// streamBase runs pg_basebackup → zstd → (age) → sha256 → store, while a
// reader of the same tar stream picks out backup_label and backup_manifest.
func (e *Engine) streamBase(ctx context.Context, url string, m *Manifest, recips []age.Recipient) (*tarInspector, error) {
	g, gctx := errgroup.WithContext(ctx)
	pr, pw := io.Pipe()
	g.Go(func() error {
		err := e.Store.Put(gctx, m.Object, pr)
		pr.CloseWithError(err)
		return err
	})
	fail := func(err error) (*tarInspector, error) {
		pw.CloseWithError(err)
		_ = g.Wait()
		return nil, err
	}
	enc, err := newEncoder(pw, recips)
	if err != nil {
		return fail(err)
	}
	pg := newTool(gctx, e.Tools.basebackup(), url, AppBackup, "--pgdata=-", "--format=tar", "--wal-method=fetch",
		"--checkpoint=fast", "--label=deployctl "+m.ID, "--no-password")
	out, err := pg.cmd.StdoutPipe()
	if err != nil {
		enc.abort()
		return fail(err)
	}
	if err := pg.cmd.Start(); err != nil {
		enc.abort()
		return fail(fmt.Errorf("start %s: %w (install the PostgreSQL client)", e.Tools.basebackup(), err))
	}
	insp := newTarInspector()
	meter := e.meter("base backup "+m.ID, 0)
	g.Go(func() error {
		err := e.pipe(pg, out, enc, pw, m, io.MultiWriter(meter, insp))
		insp.close(err)
		return baseError(err)
	})
	g.Go(insp.run)
	err = g.Wait()
	meter.Done()
	if err != nil {
		return nil, err
	}
	m.Base.DataBytes, m.DumpBytes = m.DumpBytes, 0
	m.SizeBytes, m.SHA256 = enc.stored.n, enc.stored.sum()
	m.Base.Files = append(m.Base.Files, StoredFile{Object: m.Object, SizeBytes: m.SizeBytes, SHA256: m.SHA256, RawBytes: m.Base.DataBytes})
	return insp, nil
}

// baseError adds what to do to pg_basebackup's usual refusals.
func baseError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "no pg_hba.conf entry for replication"), strings.Contains(msg, "must be superuser or replication role"),
		strings.Contains(msg, "permission denied to start WAL sender"):
		return fmt.Errorf("%w: a base backup needs a role with REPLICATION and a pg_hba.conf line for the replication pseudo-database", err)
	case strings.Contains(msg, "number of requested standby connections exceeds max_wal_senders"), strings.Contains(msg, "max_wal_senders"):
		return fmt.Errorf("%w: raise max_wal_senders on the server (a base backup needs one WAL sender)", err)
	case strings.Contains(msg, "tablespace"):
		return fmt.Errorf("%w: base backups of clusters with extra tablespaces are not supported yet", err)
	}
	return err
}

// putSmall stores raw (a few MB at most) as name in m's folder, compressed
// and encrypted as the backup, and lists it in m's files.
func (e *Engine) putSmall(ctx context.Context, m *Manifest, name string, raw []byte, recips []age.Recipient) error {
	obj := m.ID + "/" + name
	if m.Encryption != nil {
		obj += ".age"
	}
	pr, pw := io.Pipe()
	enc, err := newEncoder(pw, recips)
	if err != nil {
		return err
	}
	go func() {
		_, err := enc.Write(raw)
		if err == nil {
			err = enc.Close()
		} else {
			enc.abort()
		}
		pw.CloseWithError(err)
	}()
	if err := e.Store.Put(ctx, obj, pr); err != nil {
		pr.CloseWithError(err)
		return err
	}
	m.Base.Files = append(m.Base.Files, StoredFile{Object: obj, SizeBytes: enc.stored.n, SHA256: enc.stored.sum(), RawBytes: int64(len(raw))})
	m.Base.PgManifest.Object = obj
	return nil
}

// tarInspector reads the tar stream that pg_basebackup writes, as it is
// stored, and keeps backup_label and backup_manifest.
type tarInspector struct {
	pr       *io.PipeReader
	pw       *io.PipeWriter
	label    []byte
	manifest []byte
	names    map[string]bool
}

func newTarInspector() *tarInspector {
	pr, pw := io.Pipe()
	return &tarInspector{pr: pr, pw: pw, names: map[string]bool{}}
}

func (t *tarInspector) Write(p []byte) (int, error) { return t.pw.Write(p) }

func (t *tarInspector) close(err error) { t.pw.CloseWithError(err) }

func (t *tarInspector) run() error {
	err := t.read()
	_, _ = io.Copy(io.Discard, t.pr) // the end blocks, or what is left after a failure
	if err != nil {
		t.pr.CloseWithError(err)
	}
	return err
}

func (t *tarInspector) read() error {
	tr := tar.NewReader(bufio.NewReaderSize(t.pr, 1<<16))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read pg_basebackup's tar stream: %w", err)
		}
		t.names[h.Name] = true
		switch h.Name {
		case backupLabelName:
			t.label, err = io.ReadAll(io.LimitReader(tr, 1<<20))
		case pgManifestName:
			t.manifest, err = io.ReadAll(io.LimitReader(tr, maxPgManifestBytes))
		}
		if err != nil {
			return fmt.Errorf("read %s from pg_basebackup's tar stream: %w", h.Name, err)
		}
	}
}

// pgManifest is what deployctl reads of PostgreSQL's backup_manifest.
type pgManifest struct {
	Version   int `json:"PostgreSQL-Backup-Manifest-Version"`
	Files     []json.RawMessage
	WALRanges []struct {
		Timeline int    `json:"Timeline"`
		StartLSN string `json:"Start-LSN"`
		EndLSN   string `json:"End-LSN"`
	} `json:"WAL-Ranges"`
	Checksum string `json:"Manifest-Checksum"`
}

// fill records the backup's WAL range from backup_label and backup_manifest.
func (t *tarInspector) fill(m *Manifest) error {
	if len(t.label) == 0 || len(t.manifest) == 0 {
		return fmt.Errorf("pg_basebackup's output has no backup_label or backup_manifest (PostgreSQL 13 or later is needed)")
	}
	b := m.Base
	for _, line := range strings.Split(string(t.label), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		switch k {
		case "START WAL LOCATION": // 0/2000028 (file 000000010000000000000002)
			lsn, file, _ := strings.Cut(v, " (file ")
			b.StartLSN, b.StartWAL = lsn, strings.TrimSuffix(file, ")")
		case "START TIME":
			if ts, err := time.Parse("2006-01-02 15:04:05 MST", v); err == nil {
				b.StartTime = ts.UTC()
			}
		case "START TIMELINE":
			b.Timeline, _ = strconv.Atoi(v)
		}
	}
	var pm pgManifest
	if err := json.Unmarshal(t.manifest, &pm); err != nil {
		return fmt.Errorf("PostgreSQL's backup_manifest is not valid JSON: %v", err)
	}
	if len(pm.WALRanges) == 0 || b.StartLSN == "" {
		return fmt.Errorf("backup_label or backup_manifest lacks the WAL range of the backup")
	}
	b.StopLSN = pm.WALRanges[len(pm.WALRanges)-1].EndLSN
	b.PgManifest = &PgManifestID{Checksum: pm.Checksum, Files: len(pm.Files)}
	return nil
}

// ParseLSN reads "16/B374D848" as a number, for comparisons.
func ParseLSN(s string) (uint64, error) {
	hi, lo, ok := strings.Cut(strings.TrimSpace(s), "/")
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if !ok || err1 != nil || err2 != nil {
		return 0, fmt.Errorf("invalid LSN %q: want the form 16/B374D848", s)
	}
	return h<<32 | l, nil
}
