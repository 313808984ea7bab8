package backup_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/backup"
	"github.com/deployctl/deployctl/pkg/backup/pitrtest"
)

// archivingCluster starts a cluster that archives its WAL into a folder
// with cp (the archive of these engine tests; deployctl wal push is tested
// with the command) and returns it and the folder.
func archivingCluster(t *testing.T) (*pitrtest.Server, string) {
	t.Helper()
	root := pitrtest.TempDir(t)
	arch := filepath.Join(root, "archive")
	must(t, os.Mkdir(arch, 0o700))
	_, uid, gid := pitrtest.Postgres(t)
	must(t, os.Chown(arch, uid, gid))
	return pitrtest.Archiving(t, root, "cp %p "+arch+"/%f"), arch
}

// TestRestoreBaseToTime: rows written before and after T; the copy
// restored to T holds exactly those before T, and is promoted.
func TestRestoreBaseToTime(t *testing.T) {
	src, arch := archivingCluster(t)
	url := src.URL()
	exec(t, url, "CREATE TABLE events (id serial PRIMARY KEY, phase text); INSERT INTO events (phase) SELECT 'old' FROM generate_series(1, 100)")
	e, st := newEngine(t)
	mustBase(t, e, url)
	exec(t, url, "INSERT INTO events (phase) SELECT 'before' FROM generate_series(1, 50)")
	exec(t, url, "INSERT INTO events (phase) VALUES ('before')")
	target := pitrtest.Now(t, url)
	exec(t, url, "SELECT pg_sleep(0.01)")
	exec(t, url, "INSERT INTO events (phase) SELECT 'after' FROM generate_series(1, 70)")
	src.SwitchAndWait(t)

	c, err := backup.Scan(t.Context(), st)
	must(t, err)
	m, err := backup.ChooseBase(c, backup.RecoveryTarget{Time: target})
	must(t, err)
	dir := filepath.Join(pitrtest.TempDir(t), "restored")
	res, err := e.RestoreBase(t.Context(), m, backup.PITROptions{DataDir: dir, Target: backup.RecoveryTarget{Time: target}, RestoreCommand: "cp " + arch + "/%f %p"})
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if res.Started || res.Action != "promote" || res.StopLSN != m.Base.StopLSN {
		t.Errorf("result: %+v", res)
	}
	conf, _ := os.ReadFile(filepath.Join(dir, "postgresql.auto.conf"))
	if _, err := os.Stat(filepath.Join(dir, "recovery.signal")); err != nil || !strings.Contains(string(conf), "recovery_target_time = '") ||
		!strings.Contains(string(conf), "recovery_target_action = 'promote'") {
		t.Fatalf("recovery settings: %v\n%s", err, conf)
	}
	restored := pitrtest.Start(t, dir, true, "archive_mode=off")
	for phase, want := range map[string]int64{"old": 100, "before": 51, "after": 0} {
		if n, err := queryInt(t.Context(), restored.URL(), "SELECT count(*) FROM events WHERE phase = '"+phase+"'"); err != nil || n != want {
			t.Errorf("restored to %s: %d %q rows (%v), want %d", target.Format(time.RFC3339Nano), n, phase, err, want)
		}
	}

	_, err = e.RestoreBase(t.Context(), m, backup.PITROptions{DataDir: dir, Target: backup.RecoveryTarget{Latest: true}})
	if !errors.Is(err, backup.ErrDataDirNotEmpty) {
		t.Errorf("restore into a non-empty folder: %v", err)
	}
	if _, err := backup.ChooseBase(c, backup.RecoveryTarget{Time: m.Base.StartTime.Add(-time.Hour)}); !errors.Is(err, backup.ErrNoBaseBackup) {
		t.Errorf("a target before every base backup: %v", err)
	}
}

// TestRestoreBaseAcrossTimelineSwitch: a copy restored from a base backup
// is promoted (timeline 2) and keeps archiving into the same archive; a
// restore of the same timeline-1 base backup to a time on timeline 2
// follows the history file and holds exactly the rows before that time.
func TestRestoreBaseAcrossTimelineSwitch(t *testing.T) {
	src, arch := archivingCluster(t)
	exec(t, src.URL(), "CREATE TABLE events (id serial PRIMARY KEY, phase text); INSERT INTO events (phase) SELECT 'tl1' FROM generate_series(1, 10)")
	e, _ := newEngine(t)
	m := mustBase(t, e, src.URL())
	exec(t, src.URL(), "INSERT INTO events (phase) SELECT 'tl1' FROM generate_series(1, 5)")
	src.SwitchAndWait(t)
	restoreCmd := "cp " + arch + "/%f %p"

	root := pitrtest.TempDir(t)
	promotedDir := filepath.Join(root, "promoted")
	_, err := e.RestoreBase(t.Context(), m, backup.PITROptions{DataDir: promotedDir, Target: backup.RecoveryTarget{Latest: true}, RestoreCommand: restoreCmd})
	must(t, err)
	promoted := pitrtest.Start(t, promotedDir, true, "archive_mode=on", "archive_command=cp %p "+arch+"/%f")
	exec(t, promoted.URL(), "CHECKPOINT")
	if tli, err := queryInt(t.Context(), promoted.URL(), "SELECT timeline_id FROM pg_control_checkpoint()"); err != nil || tli != 2 {
		t.Fatalf("the promoted copy is on timeline %d (%v), want 2", tli, err)
	}
	exec(t, promoted.URL(), "INSERT INTO events (phase) SELECT 'tl2-before' FROM generate_series(1, 7)")
	target := pitrtest.Now(t, promoted.URL())
	exec(t, promoted.URL(), "SELECT pg_sleep(0.01)")
	exec(t, promoted.URL(), "INSERT INTO events (phase) SELECT 'tl2-after' FROM generate_series(1, 9)")
	promoted.SwitchAndWait(t)
	if _, err := os.Stat(filepath.Join(arch, "00000002.history")); err != nil {
		t.Fatalf("the promoted copy did not archive its history file: %v", err)
	}

	dir := filepath.Join(root, "restored")
	_, err = e.RestoreBase(t.Context(), m, backup.PITROptions{DataDir: dir, Target: backup.RecoveryTarget{Time: target}, RestoreCommand: restoreCmd})
	must(t, err)
	restored := pitrtest.Start(t, dir, true, "archive_mode=off")
	for phase, want := range map[string]int64{"tl1": 15, "tl2-before": 7, "tl2-after": 0} {
		if n, err := queryInt(t.Context(), restored.URL(), "SELECT count(*) FROM events WHERE phase = '"+phase+"'"); err != nil || n != want {
			t.Errorf("restored across the timeline switch: %d %q rows (%v), want %d", n, phase, err, want)
		}
	}
}
