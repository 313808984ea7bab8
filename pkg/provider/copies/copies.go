// Package copies is a BackupStore over several stores that hold the same
// objects (backup.storage and backup.storage.copies): geo-redundant copies.
//
// Put streams the object to every store at once (one read of the source,
// fanned out through pipes: memory stays bounded whatever the size) and
// succeeds when at least Min stores published it; the stores that missed it
// are named in a warning. When fewer than Min got it, the copies that were
// written are deleted again and Put fails, so an object is either in Min
// stores or in none (create writes the manifest last: a backup whose objects
// missed Min stores has no manifest and is not listed).
//
// Get reads from the first store that has the object, in order (the primary
// first), and says through Notef when it had to fall back. List is the
// union of the stores' listings. Delete deletes from every store.
package copies

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
)

// Named is one store and its name for people ("folder /mnt/b", "s3://b/p").
type Named struct {
	Name  string
	Store provider.BackupStore
}

// Store keeps every object in each of Stores.
type Store struct {
	Stores []Named // the primary first
	// Min is how many stores must hold an object for Put to succeed
	// (0: all of them).
	Min int
	// OneCopy names the objects for which one store is enough, without a
	// warning for the others: what readers write beside a backup (read
	// leases, verification results), not the backup itself. Nil: none.
	OneCopy func(name string) bool
	// Notef tells the operator that a read fell back to another copy;
	// Warnf that a Put missed a store. Nil: silent.
	Notef, Warnf func(format string, a ...any)
	// Stall is how long a Put waits on one store that takes no data (a
	// server that accepts connections but does not answer: stopped, its
	// disk hung) before it gives that store up, as it would a store that
	// failed, so that the others are not held (0: DefaultStall).
	Stall time.Duration

	mu   sync.Mutex
	down map[int]error // stores that could not be read in this process
	hung map[int]error // stores given up by a Put in this process
}

var (
	_ provider.BackupStore  = (*Store)(nil)
	_ provider.StoreChecker = (*Store)(nil)
)

// MinCopies is the number of stores an object must be in.
func (s *Store) MinCopies() int {
	if s.Min <= 0 || s.Min > len(s.Stores) {
		return len(s.Stores)
	}
	return s.Min
}

func (s *Store) notef(format string, a ...any) {
	if s.Notef != nil {
		s.Notef(format, a...)
	}
}

func (s *Store) warnf(format string, a ...any) {
	if s.Warnf != nil {
		s.Warnf(format, a...)
	}
}

// MinCopiesError is a Put that reached fewer than Min stores; the copies
// that were written have been removed again.
type MinCopiesError struct {
	Name   string
	Wrote  []string // stores that had published it
	Min    int
	Total  int
	Failed []StoreError
}

// StoreError is one store's failure.
type StoreError struct {
	Store string
	Err   error
}

func (e *MinCopiesError) Error() string {
	var parts []string
	for _, f := range e.Failed {
		parts = append(parts, fmt.Sprintf("store %s: %v", f.Store, f.Err))
	}
	return fmt.Sprintf("backup object %s could be written to %d of %d stores but min_copies is %d (%s)",
		e.Name, len(e.Wrote), e.Total, e.Min, strings.Join(parts, "; "))
}

// Unwrap gives the stores' errors, so that errors.As finds an
// *provider.UnreachableError among them.
func (e *MinCopiesError) Unwrap() []error {
	out := make([]error, len(e.Failed))
	for i, f := range e.Failed {
		out[i] = f.Err
	}
	return out
}

// DefaultStall is the Stall of a Store that sets none.
const DefaultStall = 30 * time.Second

func (s *Store) stall() time.Duration {
	if s.Stall <= 0 {
		return DefaultStall
	}
	return s.Stall
}

// StallError is a store given up by Put because it took no data for Stall.
type StallError struct{ After time.Duration }

func (e *StallError) Error() string {
	return fmt.Sprintf("it took no data for %s (a server that accepts connections but does not answer, or a hung disk): given up", e.After)
}

// errDone ends a store's pipe once its Put has returned: writes to a store
// that stopped reading fail instead of blocking.
var errDone = errors.New("copies: the store's Put has returned")

// chunk is the size of one read of the source, written to every store.
const chunk = 256 << 10

// Put streams r to every store at once. A store that takes no data for
// Stall, or does not finish within Stall once the data is all sent, is
// given up (its Put cancelled; if it does not return even then, it is left
// behind): one hung store does not hold the others.
func (s *Store) Put(ctx context.Context, name string, r io.Reader) error {
	n := len(s.Stores)
	prs := make([]*io.PipeReader, n)
	pws := make([]*io.PipeWriter, n)
	cancels := make([]context.CancelFunc, n)
	results := make([]chan error, n)
	errs := make([]error, n)
	stall := s.stall()
	for i, st := range s.Stores {
		pr, pw := io.Pipe()
		prs[i], pws[i] = pr, pw
		sctx, cancel := context.WithCancel(ctx)
		cancels[i], results[i] = cancel, make(chan error, 1)
		if err := s.hungErr(i); err != nil {
			// given up once in this process: not waited for again
			pr.CloseWithError(err)
			results[i] <- err
			continue
		}
		go func() {
			err := st.Store.Put(sctx, name, pr)
			results[i] <- err
			if err == nil {
				err = errDone
			}
			pr.CloseWithError(err)
		}()
	}
	defer func() {
		for _, c := range cancels {
			c()
		}
	}()
	// giveUp ends store i's Put: its pipe closed, its context cancelled.
	stalled := make([]atomic.Bool, n)
	giveUp := func(i int) {
		stalled[i].Store(true)
		prs[i].CloseWithError(&StallError{After: stall})
		cancels[i]()
	}
	alive := n
	open := make([]bool, n)
	for i := range open {
		open[i] = true
	}
	buf := make([]byte, chunk)
	var srcErr error
	for alive > 0 {
		k, err := r.Read(buf)
		if k > 0 {
			for i, pw := range pws {
				if !open[i] {
					continue
				}
				t := time.AfterFunc(stall, func() { giveUp(i) })
				_, werr := pw.Write(buf[:k])
				t.Stop()
				if werr != nil {
					open[i] = false
					alive--
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			srcErr = err
			break
		}
	}
	for _, pw := range pws {
		if srcErr != nil {
			pw.CloseWithError(srcErr)
		} else {
			pw.Close()
		}
	}
	deadline := time.NewTimer(stall)
	defer deadline.Stop()
	for i := range s.Stores {
		select {
		case errs[i] = <-results[i]:
			continue
		case <-deadline.C:
			deadline.Reset(0) // the others have had their time too
		}
		giveUp(i) // past the time: cancelled, and five more seconds to return
		select {
		case errs[i] = <-results[i]:
			if errs[i] == nil {
				stalled[i].Store(false) // it did finish
			}
		case <-time.After(5 * time.Second):
			errs[i] = errors.New("left behind") // replaced below
		}
	}
	for i := range s.Stores {
		if stalled[i].Load() && errs[i] != nil {
			errs[i] = provider.Unreachable(s.Stores[i].Name, &StallError{After: stall})
			s.mu.Lock()
			if s.hung == nil {
				s.hung = map[int]error{}
			}
			s.hung[i] = errs[i]
			s.mu.Unlock()
		}
	}
	if srcErr != nil {
		return srcErr // every Put saw it and left nothing behind
	}
	var wrote []string
	var failed []StoreError
	for i, st := range s.Stores {
		if errs[i] == nil {
			wrote = append(wrote, st.Name)
		} else {
			failed = append(failed, StoreError{Store: st.Name, Err: errs[i]})
		}
	}
	if len(failed) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		s.undo(ctx, name)
		return err
	}
	min := s.MinCopies()
	oneCopy := s.OneCopy != nil && s.OneCopy(name)
	if oneCopy {
		min = 1
	}
	if len(wrote) < min {
		s.undo(ctx, name)
		return &MinCopiesError{Name: name, Wrote: wrote, Min: min, Total: n, Failed: failed}
	}
	if oneCopy {
		return nil
	}
	for _, f := range failed {
		s.warnf("backup object %s was not written to store %s: %v; it is in %d of %d stores (%s), min_copies is %d",
			name, f.Store, f.Err, len(wrote), n, strings.Join(wrote, ", "), s.MinCopies())
	}
	return nil
}

// undo removes name from every store after a Put that failed.
func (s *Store) undo(ctx context.Context, name string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	for _, st := range s.Stores {
		_ = st.Store.Delete(ctx, name)
	}
}

func (s *Store) hungErr(i int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hung[i]
}

func (s *Store) isDown(i int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.down[i]
	return ok
}

// markDown records that store i cannot be read and says so once.
func (s *Store) markDown(i int, err error) {
	s.mu.Lock()
	if s.down == nil {
		s.down = map[int]error{}
	}
	_, seen := s.down[i]
	s.down[i] = err
	s.mu.Unlock()
	if !seen {
		s.notef("store %s cannot be read (%v): reading from the other copies", s.Stores[i].Name, err)
	}
}

// Get opens name from the first store that holds it. A store that cannot be
// read is skipped for the rest of the process. When no reachable store holds
// the object and fewer than MinCopies stores were unreadable, it cannot have
// been written completely: ErrNotFound. Otherwise the read error.
func (s *Store) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	var missing []string
	var readErr error
	unreadable := 0
	for i, st := range s.Stores {
		if s.isDown(i) {
			unreadable++
			continue
		}
		rc, err := st.Store.Get(ctx, name)
		switch {
		case err == nil:
			if len(missing) > 0 {
				s.notef("backup object %s is missing from store %s: read from store %s", name, strings.Join(missing, ", store "), st.Name)
			}
			return rc, nil
		case ctx.Err() != nil:
			return nil, err
		case errors.Is(err, provider.ErrNotFound):
			missing = append(missing, st.Name)
		default:
			unreadable++
			if readErr == nil {
				readErr = err
			}
			s.markDown(i, err)
		}
	}
	if unreadable < s.MinCopies() {
		return nil, fmt.Errorf("%s: %w", name, provider.ErrNotFound)
	}
	if readErr == nil {
		readErr = s.downErr()
	}
	return nil, fmt.Errorf("backup object %s: no copy could be read: %w", name, readErr)
}

func (s *Store) downErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.Stores {
		if err, ok := s.down[i]; ok {
			return err
		}
	}
	return errors.New("no store")
}

// Located is an object and the stores that hold it, in store order.
type Located struct {
	provider.Object
	Stores []string
}

// ListCopies lists the union of the stores, sorted by name; each object
// says where it is. A store that cannot be listed is skipped (and said so)
// unless no store can be.
func (s *Store) ListCopies(ctx context.Context, prefix string) ([]Located, error) {
	byName := map[string]*Located{}
	var firstErr error
	listed := 0
	for i, st := range s.Stores {
		if s.isDown(i) {
			continue
		}
		objs, err := st.Store.List(ctx, prefix)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			if firstErr == nil {
				firstErr = err
			}
			s.markDown(i, err)
			continue
		}
		listed++
		for _, o := range objs {
			if l, ok := byName[o.Name]; ok {
				l.Stores = append(l.Stores, st.Name)
				continue
			}
			byName[o.Name] = &Located{Object: o, Stores: []string{st.Name}}
		}
	}
	if listed == 0 {
		if firstErr == nil {
			firstErr = s.downErr()
		}
		return nil, firstErr
	}
	out := make([]Located, 0, len(byName))
	for _, l := range byName {
		out = append(out, *l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// List is the union of the stores' objects, sorted by name.
func (s *Store) List(ctx context.Context, prefix string) ([]provider.Object, error) {
	ls, err := s.ListCopies(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := make([]provider.Object, len(ls))
	for i, l := range ls {
		out[i] = l.Object
	}
	return out, nil
}

// Delete removes name from every store; the failures are joined.
func (s *Store) Delete(ctx context.Context, name string) error {
	var errs []error
	for _, st := range s.Stores {
		if err := st.Store.Delete(ctx, name); err != nil {
			errs = append(errs, fmt.Errorf("store %s: %w", st.Name, err))
		}
	}
	return errors.Join(errs...)
}

// CheckStore fails only when no store is there; the missing ones are noted.
func (s *Store) CheckStore(ctx context.Context) error {
	var firstErr error
	ok := 0
	for i, st := range s.Stores {
		sc, can := st.Store.(provider.StoreChecker)
		if !can {
			ok++
			continue
		}
		if err := sc.CheckStore(ctx); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			s.markDown(i, err)
			continue
		}
		ok++
	}
	if ok == 0 {
		return firstErr
	}
	return nil
}

// Unreadable is the error of the store at index i if it could not be read
// in this process (nil otherwise).
func (s *Store) Unreadable(i int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.down[i]
}

// CopyNames are the stores' names, the primary first: the indexes of GetFrom.
func (s *Store) CopyNames() []string {
	out := make([]string, len(s.Stores))
	for i, n := range s.Stores {
		out[i] = n.Name
	}
	return out
}

// GetFrom opens name in the store at index i only (verify reads every copy).
func (s *Store) GetFrom(ctx context.Context, i int, name string) (io.ReadCloser, error) {
	return s.Stores[i].Store.Get(ctx, name)
}
