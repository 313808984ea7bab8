package backup

import (
	"testing"
	"time"

	"github.com/deployctl/deployctl/internal/testkit"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/backup"
)

func sampleEntries() []Entry {
	at := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	return []Entry{
		{ID: "20261125T030000Z-a1b2", Type: "base", CreatedAt: at, SizeBytes: 48 << 20, SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			Verification: &backup.Verification{Level: "restore", OK: true, At: at.Add(20 * time.Minute), Detail: "restored 12 tables"}},
		{ID: "20261124T030000Z-c3d4", Type: "logical", CreatedAt: at.Add(-24 * time.Hour), Label: "before-1.4", SizeBytes: 47 << 20, SHA256: "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752",
			Verification: &backup.Verification{Level: "checksum", OK: false, At: at.Add(-23 * time.Hour), Detail: "the dump … has sha256 …"}},
		{ID: "20261123T030000Z-e5f6", Type: "logical", CreatedAt: at.Add(-48 * time.Hour), SizeBytes: 1500, SHA256: "fd61a03af4f77d870fc21e05e7e80678095c92d808cfb3b5c279ee04c74aca13"},
	}
}

func TestListGolden(t *testing.T) {
	ios, _, out, _ := ui.Test()
	if err := renderList(ios, sampleEntries(), time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	testkit.Golden(t, "list"+".golden", out.Bytes())
	ios, _, out, _ = ui.Test()
	if err := ios.JSON(ListReport{Backups: sampleEntries()}); err != nil {
		t.Fatal(err)
	}
	testkit.Golden(t, "list-json"+".golden", out.Bytes())
}
