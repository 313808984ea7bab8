// Package wal archives PostgreSQL's write-ahead log into the environment's
// backup store (deployctl wal push as archive_command, wal fetch as
// restore_command) and reads the archive back: what is there per
// timeline, where it has gaps, and how old its newest segment is.
package wal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/deployctl/deployctl/pkg/provider"
)

// ErrNotFound is returned by Fetch for a file the archive does not hold:
// PostgreSQL asks for files that do not exist (the next timeline's
// history, the segment after the last) and expects a quiet failure.
var ErrNotFound = errors.New("not in the WAL archive")

// Archive is the WAL archive of one environment.
type Archive struct {
	Store provider.BackupStore
	// StoreName names the store in errors ("folder /backups", "s3://b/p").
	StoreName string
	// Recipients encrypt pushed files (age); none: not encrypted.
	Recipients []age.Recipient
	// Identities decrypt fetched files that are encrypted.
	Identities []age.Identity
	Now        func() time.Time
	// Notef says that a fetch read another copy (backup.storage.copies).
	Notef func(format string, a ...any)
}

// copyReader is a store that keeps copies of every object in several
// stores (pkg/provider/copies): a copy that is corrupt is read again from
// the next one.
type copyReader interface {
	CopyNames() []string
	GetFrom(ctx context.Context, i int, name string) (io.ReadCloser, error)
}

// Segment is one archived WAL file.
type Segment struct {
	File
	// Size is the original size; Stored the size in the store.
	Size      int64     `json:"size"`
	Stored    int64     `json:"stored_size"`
	SHA256    string    `json:"sha256"`
	Encrypted bool      `json:"encrypted"`
	Time      time.Time `json:"archived_at"`
	Object    string    `json:"object"`
}

// MismatchError is a push of a file whose name the archive holds with
// other content: the archive is never overwritten.
type MismatchError struct {
	Name, Archived, Pushed string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("WAL file %s is archived already with sha256 %s, but the file pushed now has sha256 %s: "+
		"not overwritten; two clusters may be archiving into the same store (give each environment its own backup.storage), "+
		"or the archive holds a segment of a cluster restored without a new timeline", e.Name, e.Archived, e.Pushed)
}

// ChecksumError is a fetched file whose content does not match the sha256
// it was archived with.
type ChecksumError struct {
	Name, Object, Want, Got string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("WAL file %s is corrupt in the archive (%s): sha256 %s, archived with %s; it was not written",
		e.Name, e.Object, e.Got, e.Want)
}

func (a *Archive) now() time.Time {
	if a.Now == nil {
		return time.Now()
	}
	return a.Now()
}

func (a *Archive) storeName() string {
	if a.StoreName == "" {
		return "backup storage"
	}
	return a.StoreName
}

// reachable says, for stores that can tell, that the store is not there
// (an unmounted folder) rather than empty: WAL must not land on the root
// file system under the mount point.
func (a *Archive) reachable(ctx context.Context) error {
	if c, ok := a.Store.(provider.StoreChecker); ok {
		return c.CheckStore(ctx)
	}
	return nil
}

// unreachable turns a plain store error into an *UnreachableError naming
// the store, so the CLI exits 4 and PostgreSQL retries.
func (a *Archive) unreachable(op string, err error) error {
	var u *provider.UnreachableError
	if err == nil || errors.As(err, &u) || errors.Is(err, context.Canceled) {
		return err
	}
	return provider.Unreachable(a.storeName(), fmt.Errorf("%s: %w", op, err))
}

// find returns the archived copies of name (normally one).
func (a *Archive) find(ctx context.Context, f File) ([]Segment, error) {
	objs, err := a.Store.List(ctx, timelineDir(f.Timeline)+f.Name+".")
	if err != nil {
		return nil, a.unreachable("list "+f.Name, err)
	}
	var out []Segment
	for _, o := range objs {
		if s, ok := segmentOf(o); ok && s.Name == f.Name {
			out = append(out, s)
		}
	}
	return out, nil
}

func segmentOf(o provider.Object) (Segment, bool) {
	f, size, sum, enc, ok := parseObject(o.Name)
	if !ok {
		return Segment{}, false
	}
	return Segment{File: f, Size: size, Stored: o.Size, SHA256: sum, Encrypted: enc, Time: o.ModTime, Object: o.Name}, true
}

// Push archives the file at path (archive_command's %p, relative to the
// working directory). Pushing a file the archive holds with the same
// content succeeds without writing; with other content it fails with a
// *MismatchError.
func (a *Archive) Push(ctx context.Context, path string) error {
	f, err := ParseName(filepath.Base(path))
	if err != nil {
		return err
	}
	if err := a.reachable(ctx); err != nil {
		return err
	}
	w := newPusher()
	defer w.release()
	_, err = a.pushFile(ctx, w, f, path)
	return err
}

// pusher is one worker's reusable buffers: files are read in pieces and
// compressed as a stream, so a push holds about a compressed segment, not
// the segment.
type pusher struct {
	buf []byte
	out bytes.Buffer
	enc *zstd.Encoder
}

// pushers keeps the workers' buffers for the life of the process (a
// sync.Pool would drop them at every collection, and a push that archives a
// backlog would allocate them again and again).
var pushers = make(chan *pusher, 4)

func newPusher() *pusher {
	select {
	case w := <-pushers:
		return w
	default:
	}
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20)) // fetch decodes with size+1 MiB
	return &pusher{buf: make([]byte, 1<<20), enc: enc}
}

func (w *pusher) release() {
	w.out.Reset()
	select {
	case pushers <- w:
	default:
	}
}

// pushFile archives one file; it returns the sha256 archived (or found
// archived already).
func (a *Archive) pushFile(ctx context.Context, w *pusher, f File, path string) (string, error) {
	in, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	size := info.Size()
	// one read: hashed and compressed as it goes (a file that grows or
	// shrinks meanwhile fails the compressor's size check); the archive is
	// asked only then, so that a push of a file archived already has
	// compressed it for nothing, which is rare (its marker answers first)
	h := sha256.New()
	if err := a.sealTo(w, io.TeeReader(in, h), size); err != nil {
		return "", fmt.Errorf("read and compress %s: %w", path, err)
	}
	hexSum := hex.EncodeToString(h.Sum(nil))
	have, err := a.find(ctx, f)
	if err != nil {
		return "", err
	}
	for _, s := range have {
		if s.SHA256 != hexSum {
			return "", &MismatchError{Name: f.Name, Archived: s.SHA256, Pushed: hexSum}
		}
	}
	if len(have) > 0 {
		return hexSum, nil
	}
	obj := objectName(f, size, hexSum, len(a.Recipients) > 0)
	return hexSum, a.unreachable("write "+obj, a.Store.Put(ctx, obj, bytes.NewReader(w.out.Bytes())))
}

// sealTo compresses and, with recipients, encrypts src into w.out.
func (a *Archive) sealTo(w *pusher, src io.Reader, size int64) error {
	// room for an incompressible file at once, in pages not touched until
	// written (bytes.Buffer.Grow would zero them all, and a buffer that
	// doubles as it fills would hold twice the segment)
	if need := int(size + size/128 + 64<<10); w.out.Cap() < need {
		w.out = *bytes.NewBuffer(make([]byte, 0, need))
	}
	w.out.Reset()
	var dst io.Writer = &w.out
	var enc io.WriteCloser
	if len(a.Recipients) > 0 {
		var err error
		if enc, err = age.Encrypt(&w.out, a.Recipients...); err != nil {
			return fmt.Errorf("encrypt: %w", err)
		}
		dst = enc
	}
	w.enc.ResetContentSize(dst, size)
	if _, err := io.CopyBuffer(w.enc, src, w.buf); err != nil {
		return err
	}
	if err := w.enc.Close(); err != nil {
		return err
	}
	if enc != nil {
		if err := enc.Close(); err != nil {
			return fmt.Errorf("encrypt: %w", err)
		}
	}
	return nil
}

// Fetch writes the archived file name (restore_command's %f) to dest (%p,
// relative to the working directory), atomically and only after its
// sha256 matched. A file the archive does not hold is ErrNotFound.
func (a *Archive) Fetch(ctx context.Context, name, dest string) error {
	f, err := ParseName(name)
	if err != nil {
		return err
	}
	have, err := a.find(ctx, f)
	if err != nil {
		return err
	}
	if len(have) == 0 {
		return fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	data, err := a.open(ctx, have[0])
	if err != nil && corrupt(err) {
		data, err = a.fromCopies(ctx, have[0], err)
	}
	if err != nil {
		return err
	}
	return writeFile(dest, data)
}

// corrupt reports whether err is a file that was read but is not what was
// archived.
func corrupt(err error) bool {
	var ce *ChecksumError
	var u *provider.UnreachableError
	return errors.As(err, &ce) || (strings.Contains(err.Error(), "is corrupt in the archive") && !errors.As(err, &u))
}

// fromCopies reads a file found corrupt again from each copy of the store
// in turn, and says which one it took; first is the error of the first read.
func (a *Archive) fromCopies(ctx context.Context, s Segment, first error) ([]byte, error) {
	cr, ok := a.Store.(copyReader)
	if !ok {
		return nil, first
	}
	names := cr.CopyNames()
	for i := range names {
		data, err := a.openWith(ctx, s, func(ctx context.Context, name string) (io.ReadCloser, error) { return cr.GetFrom(ctx, i, name) })
		if err == nil {
			if a.Notef != nil {
				a.Notef("WAL file %s: %v; read the copy in %s", s.Name, first, names[i])
			}
			return data, nil
		}
	}
	return nil, first
}

// open reads, decrypts, decompresses and checks one archived file.
func (a *Archive) open(ctx context.Context, s Segment) ([]byte, error) {
	return a.openWith(ctx, s, a.Store.Get)
}

func (a *Archive) openWith(ctx context.Context, s Segment, get func(context.Context, string) (io.ReadCloser, error)) ([]byte, error) {
	rc, err := get(ctx, s.Object)
	if errors.Is(err, provider.ErrNotFound) {
		return nil, fmt.Errorf("%s: %w", s.Name, ErrNotFound) // deleted meanwhile
	}
	if err != nil {
		return nil, a.unreachable("read "+s.Object, err)
	}
	defer rc.Close()
	var src io.Reader = rc
	if s.Encrypted {
		if len(a.Identities) == 0 {
			return nil, fmt.Errorf("WAL file %s is encrypted: set backup.encryption.identity_file to a key of one of its recipients", s.Name)
		}
		if src, err = age.Decrypt(rc, a.Identities...); err != nil {
			return nil, fmt.Errorf("decrypt WAL file %s (%s): %w", s.Name, s.Object, err)
		}
	}
	data, err := decode(src, s.Size)
	if err != nil {
		return nil, a.readError(s, err)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != s.SHA256 {
		return nil, &ChecksumError{Name: s.Name, Object: s.Object, Want: s.SHA256, Got: got}
	}
	return data, nil
}

func (a *Archive) readError(s Segment, err error) error {
	var u *provider.UnreachableError
	if errors.As(err, &u) || errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("WAL file %s is corrupt in the archive (%s): %w", s.Name, s.Object, err)
}

func decode(src io.Reader, size int64) ([]byte, error) {
	d, err := zstd.NewReader(src, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(max(size, 1<<20))+1<<20))
	if err != nil {
		return nil, err
	}
	defer d.Close()
	buf := bytes.NewBuffer(make([]byte, 0, size))
	if _, err := buf.ReadFrom(d); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeFile publishes data at dest atomically: a temporary file in the same
// folder, synced, renamed.
func writeFile(dest string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".deployctl-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dest)
}

// List returns every archived file, ordered by timeline, then name.
func (a *Archive) List(ctx context.Context) ([]Segment, error) {
	if err := a.reachable(ctx); err != nil {
		return nil, err
	}
	objs, err := a.Store.List(ctx, Prefix)
	if err != nil {
		return nil, a.unreachable("list "+Prefix, err)
	}
	var out []Segment
	for _, o := range objs {
		if s, ok := segmentOf(o); ok {
			out = append(out, s)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Timeline != out[j].Timeline {
			return out[i].Timeline < out[j].Timeline
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// Delete removes the archived segments (and .partial and .backup files)
// of every timeline that come before segment before, by segment number;
// history files are kept (they are tiny, and recovery needs every one of
// them). It returns what it deleted. Retention decides what before is
// (a base backup's start segment; backup prune uses Prunable with the
// start LSN itself).
func (a *Archive) Delete(ctx context.Context, before File) ([]Segment, error) {
	all, err := a.List(ctx)
	if err != nil {
		return nil, err
	}
	size := SegmentSize(all)
	ps := Prunable(all, Cutoff{LSN: before.SegNo(size) * uint64(size), Timeline: before.Timeline})
	return a.DeleteFiles(ctx, ps.Delete)
}
