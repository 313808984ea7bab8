package statefs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/deployctl/deployctl/pkg/provider"
)

// History is the append-only audit trail in <dir>/history.jsonl, one JSON
// object per line. Appends are single writes under an flock, so concurrent
// writers never interleave, and a line cut short by a crash is skipped when
// reading instead of hiding the rest of the trail.
type History struct {
	Dir string
}

var _ provider.HistoryLog = (*History)(nil)

// Path is the history file.
func (h *History) Path() string { return filepath.Join(h.Dir, "history.jsonl") }

// Append adds e as one line and fsyncs it.
func (h *History) Append(ctx context.Context, e provider.Entry) error {
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode history entry: %w", err)
	}
	if err := ensureDir(h.Dir); err != nil {
		return err
	}
	f, err := os.OpenFile(h.Path(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, fileMode)
	if err != nil {
		return fmt.Errorf("open history: %w", err)
	}
	defer f.Close()
	lf, _, err := flockFile(h.Path()+".lock", lockEX, true)
	if err != nil {
		return err
	}
	defer unlockFile(lf)
	if err := terminateLastLine(h.Path(), f); err != nil {
		return err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("append history: %w", err)
	}
	return f.Sync()
}

// terminateLastLine ends a line a crash left unterminated, so the next entry
// starts on its own line.
func terminateLastLine(path string, f *os.File) error {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return err
	}
	r, err := os.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	last := make([]byte, 1)
	if _, err := r.ReadAt(last, st.Size()-1); err != nil {
		return err
	}
	if last[0] != '\n' {
		_, err = f.Write([]byte("\n"))
	}
	return err
}

// List returns the entries matching flt, oldest first.
func (h *History) List(ctx context.Context, flt provider.Filter) ([]provider.Entry, error) {
	data, err := os.ReadFile(h.Path())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	var out []provider.Entry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		var e provider.Entry
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue // a line cut short by a crash
		}
		if Match(e, flt) {
			out = append(out, e)
		}
	}
	if flt.Limit > 0 && len(out) > flt.Limit {
		out = out[len(out)-flt.Limit:]
	}
	return out, sc.Err()
}

// Match reports whether e passes the filter's time and command conditions.
func Match(e provider.Entry, flt provider.Filter) bool {
	if !flt.Since.IsZero() && e.Time.Before(flt.Since) {
		return false
	}
	if flt.Command != "" && e.Command != flt.Command && !strings.HasPrefix(e.Command, flt.Command+" ") {
		return false
	}
	return true
}
