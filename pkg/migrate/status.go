package migrate

import (
	"context"
	"time"
)

// StatusRow is one version as status shows it.
type StatusRow struct {
	Version     int64      `json:"version"`
	File        string     `json:"file"`
	State       string     `json:"state"` // applied | pending | dirty | missing-file
	AppliedAt   *time.Time `json:"applied_at"`
	Checksum    string     `json:"checksum"` // ok | changed | unrecorded | "" (pending)
	Transaction bool       `json:"transaction"`
	Note        string     `json:"note,omitempty"`
}

// Status reads the database (no lock, no change) and joins it with the files.
func Status(ctx context.Context, db *DB, migs []Migration) ([]StatusRow, *State, error) {
	st, err := db.ReadState(ctx)
	if err != nil {
		return nil, nil, err
	}
	return StatusRows(migs, st), st, nil
}

// StatusRows joins the files with the database's state, by version.
func StatusRows(migs []Migration, st *State) []StatusRow {
	var rows []StatusRow
	files := map[int64]bool{}
	for _, m := range migs {
		files[m.Version] = true
		row := StatusRow{Version: m.Version, File: m.File, State: "pending", Transaction: m.UseTx}
		r, rec := st.Records[m.Version]
		if at, ok := st.Applied[m.Version]; ok {
			at := at.UTC()
			row.State, row.AppliedAt, row.Checksum = "applied", &at, "unrecorded"
			if rec && r.State == "applied" {
				row.Checksum = "ok"
				if r.SHA256 != m.SHA256 {
					row.Checksum = "changed"
					row.Note = "edited since it was applied"
				}
			}
		}
		if rec && r.State == "dirty" {
			row.State, row.Note = "dirty", "failed "+r.Direction+" outside a transaction: "+r.Error
		}
		rows = append(rows, row)
	}
	for _, v := range sortedVersions(st.Applied) {
		if !files[v] {
			at := st.Applied[v].UTC()
			rows = append(rows, StatusRow{Version: v, File: st.Records[v].File, State: "missing-file", AppliedAt: &at, Note: "applied, but its file is gone"})
		}
	}
	sortRows(rows)
	return rows
}
