package backup_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/deployctl/deployctl/internal/testkit"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/aws/s3store/s3test"
	"github.com/deployctl/deployctl/pkg/provider/local/statefs"
)

// bigSQL makes a database whose backup takes long enough to be killed in
// the middle (about 25 MB of incompressible text).
const bigSQL = seedSQL + `
CREATE TABLE blobs (id int PRIMARY KEY, body text);
INSERT INTO blobs SELECT g, md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) FROM generate_series(1, 200000) g;`

// waitFor polls cond until it holds or 30 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, what, 30*time.Second, cond)
}

// killDuring starts deployctl args and SIGKILLs it once cond holds.
func (p *project) killDuring(what string, cond func() bool, args ...string) {
	p.t.Helper()
	cmd := p.command(args...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	must(p.t, cmd.Start())
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	waitFor(p.t, what, func() bool {
		select {
		case <-done:
			p.t.Fatalf("deployctl %v ended before it could be killed: %s", args, errb.String())
		default:
		}
		return cond()
	})
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

func tempFiles(dir string) int {
	n := 0
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.HasPrefix(info.Name(), ".tmp-") && info.Size() > 0 {
			n++
		}
		return nil
	})
	return n
}

// afterCrash checks that list, verify, a new create and prune behave.
func (p *project) afterCrash(wantBackups int, orphan bool) {
	t := p.t
	t.Helper()
	if l := p.list(); len(l.Backups) != wantBackups {
		t.Fatalf("after the kill, list shows %d backups, want %d", len(l.Backups), wantBackups)
	}
	r := p.run("backup", "verify", "latest")
	if wantBackups == 0 && (r.code != 1 || !strings.Contains(r.err, "no backup")) {
		t.Errorf("verify after a killed first create: exit %d, %s", r.code, r.err)
	}
	if wantBackups > 0 && r.code != 0 {
		t.Errorf("verify after the kill: exit %d, %s", r.code, r.err)
	}
	id := strings.TrimSpace(p.mustRun("backup", "create").out)
	p.mustRun("backup", "verify", "latest") // restore level: prune keeps the newest backup verified so
	r = p.mustRun("backup", "prune", "--grace", "0s", "--apply", "--yes", "-o", "json")
	if orphan != strings.Contains(r.out, "interrupted create") {
		t.Errorf("prune and the orphan of a killed create (want one: %v):\n%s", orphan, r.out)
	}
	if l := p.list(); len(l.Backups) != 1 || l.Backups[0].ID != id {
		t.Errorf("after create and prune (same day: the newest stays): %+v", l.Backups)
	}
}

func TestKilledCreateOnFolder(t *testing.T) {
	p := newProject(t, "")
	p.exec(p.url, bigSQL)
	dir := filepath.Join(p.dir, "backups")
	p.killDuring("the dump to be half written", func() bool { return tempFiles(dir) > 0 }, "backup", "create")
	p.afterCrash(0, true)
	if n := tempFiles(dir); n != 0 {
		t.Errorf("%d partial files left after prune", n)
	}
}

func TestKilledCreateOnS3(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	var parts atomic.Int64
	// the killed create's CompleteMultipartUpload is held until the kill:
	// the upload is certain to be in progress when the kill lands, however
	// quickly its parts went up
	var hold atomic.Bool
	hold.Store(true)
	held := make(chan struct{})
	rec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Has("partNumber") {
			parts.Add(1)
		}
		if r.Method == http.MethodPost && q.Has("uploadId") && hold.Load() {
			select {
			case <-r.Context().Done():
			case <-held:
			}
			http.Error(w, "held by the test", http.StatusServiceUnavailable)
			return
		}
		srv.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(rec.Close)
	t.Cleanup(func() { close(held) }) // before rec.Close, which waits for handlers
	p := newProject(t, "backup: {storage: {provider: s3, bucket: "+bucket+", prefix: prod, endpoint: "+rec.URL+", path_style: true}}\n")
	p.env = append(p.env, s3test.Environ()...)
	p.exec(p.url, bigSQL)
	p.killDuring("a multipart upload in progress", func() bool { return parts.Load() > 0 }, "backup", "create")
	hold.Store(false)
	if l := p.list(); len(l.Backups) != 0 {
		t.Fatalf("a killed create on S3 is listed: %+v", l)
	}
	r := p.mustRun("backup", "prune", "--grace", "0s", "--apply", "--yes", "-o", "json")
	if !strings.Contains(r.out, `"aborted_uploads": 1`) {
		t.Errorf("prune does not abort the killed create's multipart upload:\n%s", r.out)
	}
	p.mustRun("backup", "create")
	p.mustRun("backup", "verify")
}

func TestKilledRestore(t *testing.T) {
	p := newProject(t, "")
	p.exec(p.url, bigSQL)
	p.mustRun("backup", "create")
	target := pg.NewDatabase(t)
	p.killDuring("pg_restore to load data", func() bool {
		return scalar(t, target, "SELECT count(*) FROM pg_class WHERE relname = 'blobs'") > 0
	}, "backup", "restore", "latest", "--target-url", target, "--yes")
	waitFor(t, "pg_restore to die with deployctl", func() bool {
		return scalar(t, target, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()") == 0
	})
	r := p.mustRun("backup", "restore", "latest", "--target-url", target, "--clean", "--yes")
	if strings.Contains(r.err, "locked") {
		t.Errorf("the lock of the killed restore was not released: %s", r.err)
	}
	if n := scalar(t, target, "SELECT count(*) FROM blobs"); n != 200000 {
		t.Errorf("restore after the kill: %d rows", n)
	}
	left, _ := filepath.Glob(filepath.Join(envValue(p.env, "TMPDIR"), "deployctl-restore-*"))
	if len(left) != 0 {
		t.Errorf("decoded archives left: %v", left)
	}
	p.afterCrash(1, false)
}

func envValue(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

func TestRestoreTakesTheEnvironmentLock(t *testing.T) {
	p := newProject(t, "")
	p.exec(p.url, seedSQL)
	p.mustRun("backup", "create")
	l := &statefs.Locker{Dir: statefs.Root(filepath.Join(p.dir, ".deployctl"), "development")}
	release, err := l.Acquire(t.Context(), provider.Holder{Actor: "bob", Host: "ops1", PID: 4242, Command: "rollout green", Reason: "release 1.4", Since: time.Now()})
	must(t, err)
	r := p.run("backup", "restore", "latest", "--target-url", pg.NewDatabase(t), "--yes")
	if r.code != 3 || !strings.Contains(r.err, "bob") || !strings.Contains(r.err, "release 1.4") {
		t.Errorf("restore while bob holds the lock: exit %d, %s", r.code, r.err)
	}
	must(t, release())
	p.mustRun("backup", "restore", "latest", "--target-url", pg.NewDatabase(t), "--yes")
}

// TestInterruptedVerifyDropsScratch sends Ctrl-C (SIGINT) while verify
// restores: exit 130, and the scratch database is gone.
func TestInterruptedVerifyDropsScratch(t *testing.T) {
	p := newProject(t, "")
	p.exec(p.url, bigSQL)
	p.mustRun("backup", "create")
	scratch := "SELECT count(*) FROM pg_database WHERE datname LIKE 'deployctl_verify_%'"
	cmd := p.command("backup", "verify")
	must(t, cmd.Start())
	waitFor(t, "the scratch database", func() bool { return scalar(t, p.url, scratch) > 0 })
	_ = cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if cmd.ProcessState.ExitCode() != 130 {
		t.Errorf("verify after Ctrl-C: %v, want exit 130", err)
	}
	if n := scalar(t, p.url, scratch); n != 0 {
		t.Errorf("%d scratch databases left after Ctrl-C", n)
	}
	if l := p.list(); l.Backups[0].Verification != nil {
		t.Errorf("an interrupted verify stored a result: %+v", l.Backups[0].Verification)
	}
}

// TestKilledVerifyScratchDroppedByTheNext: a verify killed outright cannot
// drop its scratch database; the next verify (from cron, say) does, and
// says so in its JSON.
func TestKilledVerifyScratchDroppedByTheNext(t *testing.T) {
	p := newProject(t, "")
	p.exec(p.url, bigSQL)
	p.mustRun("backup", "create")
	scratch := "SELECT count(*) FROM pg_database WHERE starts_with(datname, 'deployctl_verify_')"
	p.killDuring("the scratch database", func() bool { return scalar(t, p.url, scratch) > 0 }, "backup", "verify")
	waitFor(t, "the killed verify's sessions to end", func() bool { // pg_restore dies with it
		return scalar(t, p.url, "SELECT count(*) FROM pg_stat_activity WHERE starts_with(datname, 'deployctl_verify_')") == 0
	})
	if n := scalar(t, p.url, scratch); n != 1 {
		t.Fatalf("%d scratch databases after SIGKILL, want the one it left", n)
	}
	var rep struct {
		OK        bool     `json:"ok"`
		CleanedUp []string `json:"cleaned_up"`
	}
	must(t, json.Unmarshal([]byte(p.mustRun("backup", "verify", "-o", "json").out), &rep))
	if !rep.OK || len(rep.CleanedUp) != 1 || !strings.HasPrefix(rep.CleanedUp[0], "deployctl_verify_") {
		t.Fatalf("the next verify: %+v, want ok and the left scratch database dropped", rep)
	}
	if n := scalar(t, p.url, scratch); n != 0 {
		t.Fatalf("%d scratch databases after the next verify", n)
	}
}

// TestInterruptedCreateLeavesNothing sends Ctrl-C during create: exit 130,
// and not even an orphan is left in the folder.
func TestInterruptedCreateLeavesNothing(t *testing.T) {
	p := newProject(t, "")
	p.exec(p.url, bigSQL)
	dir := filepath.Join(p.dir, "backups")
	cmd := p.command("backup", "create")
	must(t, cmd.Start())
	waitFor(t, "the dump to be half written", func() bool { return tempFiles(dir) > 0 })
	_ = cmd.Process.Signal(syscall.SIGINT)
	_ = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("create after Ctrl-C: exit %d, want 130", code)
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 0 {
		t.Errorf("an interrupted create left %d entries in the folder", len(left))
	}
}
