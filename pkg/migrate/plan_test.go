package migrate

import (
	"strings"
	"testing"
	"time"
)

func TestPendingUpTo(t *testing.T) {
	var migs []Migration
	for _, n := range []string{"00001_a.sql", "00002_b.sql", "00003_c.sql", "00004_d.sql"} {
		m, err := Parse(n, []byte("-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 1;\n"))
		if err != nil {
			t.Fatal(err)
		}
		migs = append(migs, m)
	}
	st := &State{Applied: map[int64]time.Time{1: {}, 2: {}}, Records: map[int64]Record{}}
	got, err := PendingUpTo(migs, st, 3)
	if err != nil || len(got) != 1 || got[0].Version != 3 {
		t.Errorf("up to 3: %v %v", got, err)
	}
	p, err := PlanFor(migs, st, 0)
	if err != nil || len(p.Pending) != 2 || p.SetHash != SetHash(migs[2:]) || p.Current != 2 {
		t.Errorf("plan: %+v %v", p, err)
	}
	st.Applied = map[int64]time.Time{1: {}, 3: {}}
	if _, err := PendingUpTo(migs, st, 0); err == nil || !strings.Contains(err.Error(), "00002_b.sql is older than the database's version 3") {
		t.Errorf("out of order: %v", err)
	}
}

func TestChangedAndDirty(t *testing.T) {
	m, _ := Parse("00001_a.sql", []byte("-- +goose Up\nSELECT 1;\n"))
	st := &State{Applied: map[int64]time.Time{1: {}}, Records: map[int64]Record{1: {Version: 1, File: m.File, SHA256: "old", State: "applied"}}}
	ch := ChangedFiles([]Migration{m}, st)
	if len(ch) != 1 || ch[0].Recorded != "old" || ch[0].Now != m.SHA256 {
		t.Errorf("changed: %+v", ch)
	}
	rows := StatusRows([]Migration{m}, st)
	if rows[0].Checksum != "changed" {
		t.Errorf("status row: %+v", rows[0])
	}
	st.Records[1] = Record{Version: 1, File: m.File, SHA256: m.SHA256, State: "dirty", Direction: "down", Error: "boom"}
	if d := st.Dirty(); len(d) != 1 || !strings.Contains((&DirtyError{Records: d}).Error(), "failed down outside a transaction") {
		t.Errorf("dirty: %+v", d)
	}
	st.Applied = map[int64]time.Time{1: {}, 9: {}}
	rows = StatusRows([]Migration{m}, st)
	if len(rows) != 2 || rows[0].State != "dirty" || rows[1].State != "missing-file" {
		t.Errorf("rows: %+v", rows)
	}
}
