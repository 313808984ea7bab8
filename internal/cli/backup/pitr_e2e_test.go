package backup_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/backup/pitrtest"
)

// giveToPostgres makes the project and the binary usable by the postgres
// OS user, who runs archive_command and restore_command.
func giveToPostgres(t *testing.T, p *project) {
	t.Helper()
	openUp(t, filepath.Dir(bin))
	openUp(t, p.dir)
	_, uid, gid := pitrtest.Postgres(t)
	must(t, filepath.Walk(p.dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	}))
}

// asPostgres runs deployctl as the postgres OS user, as on a database
// host: the user of archive_command and restore_command shares the store.
func (p *project) asPostgres(args ...string) result {
	p.t.Helper()
	cmd := p.command(args...)
	_, uid, gid := pitrtest.Postgres(p.t)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{out: out.String(), err: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		p.t.Fatal(err)
	}
	if r.code != 0 {
		p.t.Fatalf("deployctl %s (as postgres): exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.out, r.err)
	}
	return r
}

// archivingProject is a project whose cluster archives its WAL with
// 'deployctl wal push' into the project's backups, with a table events of
// 100 'old' rows; tmp is a folder the postgres user can use.
func archivingProject(t *testing.T) (p *project, src *pitrtest.Server, tmp string) {
	t.Helper()
	p = newProject(t, "")
	tmp = pitrtest.TempDir(t)
	p.env = append(p.env, "TMPDIR="+tmp)
	giveToPostgres(t, p)
	cfgDir := filepath.Join(p.dir, "environments")
	src = pitrtest.Archiving(t, tmp, bin+" --config-dir "+cfgDir+" --env development wal push %p", "archive_timeout=0")
	pitrtest.Exec(t, src.URL(), "CREATE TABLE events (id serial PRIMARY KEY, phase text); INSERT INTO events (phase) SELECT 'old' FROM generate_series(1, 100)")
	return p, src, tmp
}

// The whole chain with deployctl itself: the cluster archives with
// 'deployctl wal push', 'backup create --type base', rows before and after
// T, 'backup restore --type base --to-time T' builds a folder whose
// restore_command is 'deployctl wal fetch'; the server started on it holds
// exactly the rows before T. 'backup verify --type base' recovers a copy
// to the end of the archive.
func TestPointInTimeRestoreWithDeployctlWAL(t *testing.T) {
	p, src, tmp := archivingProject(t)
	url := src.URL()
	id := strings.TrimSpace(p.asPostgres("backup", "create", "--type", "base", "--database-url", url).out)
	pitrtest.Exec(t, url, "INSERT INTO events (phase) SELECT 'before' FROM generate_series(1, 40)")
	target := pitrtest.Now(t, url)
	pitrtest.Exec(t, url, "SELECT pg_sleep(0.01)")
	pitrtest.Exec(t, url, "INSERT INTO events (phase) SELECT 'after' FROM generate_series(1, 60)")
	src.SwitchAndWait(t)

	dir := filepath.Join(tmp, "restored")
	r := p.asPostgres("backup", "restore", "--type", "base", "--to-time", target.Format(time.RFC3339Nano), "--data-dir", dir)
	if !strings.Contains(r.err, id) {
		t.Errorf("restore did not start from %s: %s", id, r.err)
	}
	restored := pitrtest.Start(t, dir, true, "archive_mode=off")
	for phase, want := range map[string]int64{"old": 100, "before": 40, "after": 0} {
		if n := pitrtest.Int(t, restored.URL(), "SELECT count(*) FROM events WHERE phase = '"+phase+"'"); n != want {
			t.Errorf("restored to %s: %d %q rows, want %d\n%s", target.Format(time.RFC3339Nano), n, phase, want, restored.ReadLog())
		}
	}
	if log := restored.ReadLog(); !strings.Contains(log, "restored log file") {
		t.Errorf("the restored server fetched no WAL with deployctl wal fetch:\n%s", log)
	}
	r = p.asPostgres("backup", "verify", "--type", "base")
	if r.out != "" || r.err != "" {
		t.Errorf("verify --type base: %q %q", r.out, r.err)
	}
}
