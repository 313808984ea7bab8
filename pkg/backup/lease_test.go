package backup_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/backup"
)

// nopMeter is what Progress returns; the test acts in Progress itself,
// which runs when the verify starts reading its backup.
type nopMeter struct{}

func (nopMeter) Write(p []byte) (int, error) { return len(p), nil }
func (nopMeter) Done()                       {}

// A prune that runs while a verify reads the backup it would delete keeps
// that backup and says who reads it; the verify completes; the next prune,
// with nobody reading, deletes it.
func TestPruneKeepsTheBackupAVerifyIsReading(t *testing.T) {
	url := pg.NewDatabase(t)
	seed(t, url, 50)
	e, st := newEngine(t)
	old := mustCreate(t, e, url)
	e.Now = func() time.Time { return time.Now().Add(48 * time.Hour) }
	newer := mustCreate(t, e, url)
	prune := func() *backup.PrunePlan {
		c, err := backup.Scan(t.Context(), st)
		must(t, err)
		plan := backup.Plan(c, backup.Policy{Daily: 1}, time.Now().Add(96*time.Hour))
		_, err = e.Apply(t.Context(), plan)
		must(t, err)
		return plan
	}
	var during *backup.PrunePlan
	e.Progress = func(string, int64) backup.Meter {
		if during == nil {
			during = prune()
		}
		return nopMeter{}
	}
	res, err := e.Verify(t.Context(), old, backup.VerifyOptions{Level: backup.LevelRestore, ServerURL: url})
	if err != nil || !res.Verification.OK {
		t.Fatalf("verify with a prune beside it: %v %v", err, res)
	}
	if during == nil {
		t.Fatal("the prune did not run during the verify")
	}
	item := during.Backups[len(during.Backups)-1]
	if item.ID != old.ID || !item.Keep || !strings.Contains(strings.Join(item.Reasons, " "), "being read by backup verify") {
		t.Fatalf("the prune during the verify should keep %s and say why: %+v", old.ID, item)
	}
	if _, err := backup.Load(t.Context(), st, old.ID); err != nil {
		t.Fatalf("the backup being verified was deleted: %v", err)
	}
	e.Progress = nil
	if _, err := e.Verify(t.Context(), newer, backup.VerifyOptions{Level: backup.LevelRestore, ServerURL: url}); err != nil {
		t.Fatal(err) // the newest restore-verified backup is kept whatever its age
	}
	prune()
	if _, err := backup.Load(t.Context(), st, old.ID); !errors.Is(err, backup.ErrNoBackup) {
		t.Fatalf("with nobody reading, prune should delete %s: %v", old.ID, err)
	}
	if objs, _ := st.List(t.Context(), old.ID+"/"); len(objs) != 0 {
		t.Errorf("left behind: %v", objs)
	}
}

// A verify of a backup that is gone by the time it starts reading fails;
// it never reports a verification it did not do, nor recreates the folder.
func TestVerifyOfADeletedBackupFails(t *testing.T) {
	url := pg.NewDatabase(t)
	seed(t, url, 10)
	e, st := newEngine(t)
	m := mustCreate(t, e, url)
	must(t, st.Delete(t.Context(), m.ID+"/"+backup.ManifestObject))
	_, err := e.Verify(t.Context(), m, backup.VerifyOptions{Level: backup.LevelChecksum})
	if !errors.Is(err, backup.ErrBackupGone) {
		t.Fatalf("verify of a deleted backup: %v, want ErrBackupGone", err)
	}
	if objs, _ := st.List(t.Context(), m.ID+"/leases/"); len(objs) != 0 {
		t.Errorf("the verify left its lease: %v", objs)
	}
}
