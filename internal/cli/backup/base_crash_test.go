package backup_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

const walsenders = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'walsender' AND application_name = 'deployctl-backup'"

// A base backup killed at any point is not a backup: no manifest, so list
// does not show it; pg_basebackup dies with deployctl (its WAL sender
// ends); prune removes the folder; the next create works.
func TestKilledBaseCreate(t *testing.T) {
	p := newProject(t, "")
	p.exec(p.url, bigSQL)
	dir := filepath.Join(p.dir, "backups")
	p.killDuring("the base backup to be half written", func() bool { return tempFiles(dir) > 0 }, "backup", "create", "--type", "base")
	waitFor(t, "pg_basebackup to die with deployctl", func() bool { return scalar(t, p.url, walsenders) == 0 })
	if l := p.list(); len(l.Backups) != 0 {
		t.Fatalf("a killed base backup is listed: %+v", l)
	}
	id := strings.TrimSpace(p.mustRun("backup", "create", "--type", "base").out)
	r := p.mustRun("backup", "prune", "--grace", "0s", "--apply", "--yes", "-o", "json")
	if !strings.Contains(r.out, "interrupted create") {
		t.Errorf("prune and the killed base backup:\n%s", r.out)
	}
	if l := p.list(); len(l.Backups) != 1 || l.Backups[0].ID != id {
		t.Errorf("after create and prune: %+v", l.Backups)
	}
}

// scratchPID is the pid of the scratch PostgreSQL of a running verify
// --type base under tmp, or 0.
func scratchPID(tmp string) int {
	files, _ := filepath.Glob(filepath.Join(tmp, "deployctl-verify-*", "data", "postmaster.pid"))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		first, _, _ := strings.Cut(string(raw), "\n")
		if pid, err := strconv.Atoi(strings.TrimSpace(first)); err == nil {
			return pid
		}
	}
	return 0
}

// running reports a live process (a zombie waiting for init is not).
func running(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	_, rest, _ := strings.Cut(string(raw), ") ")
	return err == nil && !strings.HasPrefix(rest, "Z")
}

// Ctrl-C during verify --type base: exit 130, the scratch server stopped
// and its folder removed, no result stored. SIGKILL: the server dies with
// deployctl, and the next verify removes the folder and says so.
func TestInterruptedAndKilledBaseVerify(t *testing.T) {
	p := newProject(t, "")
	p.exec(p.url, bigSQL)
	tmp := reachableTemp(t)
	p.env = append(p.env, "TMPDIR="+tmp)
	openUp(t, filepath.Dir(bin))
	openUp(t, p.dir)
	p.mustRun("backup", "create", "--type", "base")

	cmd := p.command("backup", "verify", "--type", "base")
	must(t, cmd.Start())
	var pid int
	waitFor(t, "the scratch server", func() bool { pid = scratchPID(tmp); return pid > 0 })
	_ = cmd.Process.Signal(syscall.SIGINT)
	_ = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("verify --type base after Ctrl-C: exit %d, want 130", code)
	}
	if running(pid) || scratchProcesses() {
		t.Errorf("the scratch server (pid %d) or its processes outlived the interrupted verify", pid)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "deployctl-verify-*")); len(left) != 0 {
		t.Errorf("after Ctrl-C: left %v", left)
	}
	if l := p.list(); l.Backups[0].Verification != nil {
		t.Errorf("an interrupted verify stored a result: %+v", l.Backups[0].Verification)
	}

	p.killDuring("the scratch server", func() bool { pid = scratchPID(tmp); return pid > 0 }, "backup", "verify", "--type", "base")
	waitFor(t, "the scratch server to die with deployctl", func() bool { return !running(pid) && !scratchProcesses() })
	var rep struct {
		OK        bool     `json:"ok"`
		CleanedUp []string `json:"cleaned_up"`
	}
	must(t, json.Unmarshal([]byte(p.mustRun("backup", "verify", "--type", "base", "-o", "json").out), &rep))
	if !rep.OK || len(rep.CleanedUp) != 1 || !strings.Contains(rep.CleanedUp[0], "deployctl-verify-") {
		t.Fatalf("the next verify: %+v, want ok and the killed verify's folder removed", rep)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "deployctl-verify-*")); len(left) != 0 {
		t.Errorf("left after the next verify: %v", left)
	}
}

// scratchProcesses reports whether a process of a scratch server runs (its
// title holds its cluster_name, deployctl-verify-…).
func scratchProcesses() bool {
	found, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range found {
		if raw, err := os.ReadFile(f); err == nil && strings.Contains(string(raw), "deployctl-verify-") && strings.HasPrefix(string(raw), "postgres: ") {
			return true
		}
	}
	return false
}
