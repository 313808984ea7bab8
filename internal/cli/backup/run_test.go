package backup_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/internal/app"
	clibackup "github.com/deployctl/deployctl/internal/cli/backup"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/backup"
	"github.com/deployctl/deployctl/pkg/provider/all"
	"github.com/deployctl/deployctl/pkg/provider/local/filestore"
)

var created = time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)

// runIn runs `backup args…` in-process in project p with a fixed clock.
func runIn(p *project, now time.Time, tty bool, args ...string) (code int, out, errOut string) {
	f := app.NewFactory(all.Registry())
	ios, _, o, e := ui.Test()
	ios.StderrTTY = tty
	f.IO, f.Now = ios, func() time.Time { return now }
	f.Environ = func() []string { return p.env }
	f.Flags.Env, f.Flags.ConfigDir, f.Flags.Output = "development", filepath.Join(p.dir, "environments"), "table"
	for i, a := range args {
		if a == "-o" && i+1 < len(args) {
			f.Flags.Output = args[i+1]
			args = append(args[:i:i], args[i+2:]...)
			break
		}
	}
	code = app.Run(context.Background(), f, clibackup.NewCmdBackup(f), args)
	return code, o.String(), e.String()
}

// backupAt takes a backup of p's database as if at time at.
func backupAt(t *testing.T, p *project, at time.Time) *backup.Manifest {
	t.Helper()
	e := &backup.Engine{Store: &filestore.Store{Dir: filepath.Join(p.dir, "backups")}, Now: func() time.Time { return at }}
	m, err := e.Create(t.Context(), backup.CreateOptions{DatabaseURL: p.url})
	must(t, err)
	return m
}

func TestVerifyForCron(t *testing.T) {
	p := newProject(t, "")
	p.exec(p.url, seedSQL)

	must(t, os.MkdirAll(filepath.Join(p.dir, "backups"), 0o700)) // an empty store; a missing one is exit 4 (TestMissingBackupFolderIsNotEmpty)
	code, out, errOut := runIn(p, created, false, "verify", "latest", "--max-age", "26h")
	if code != 1 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "no backup at all") {
		t.Errorf("no backup: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	m := backupAt(t, p, created)
	code, out, errOut = runIn(p, created.Add(25*time.Hour), false, "verify", "latest", "--max-age", "26h")
	if code != 0 || out != "" || errOut != "" {
		t.Errorf("fresh and good: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	code, out, errOut = runIn(p, created.Add(30*time.Hour), false, "verify", "latest", "--max-age", "26h", "--level", "checksum")
	want := "backup verify: the newest backup " + m.ID + " is 1d6h old, more than --max-age 1d2h\n"
	if code != 1 || out != "" || errOut != want {
		t.Errorf("stale: exit %d, stdout %q, stderr %q, want %q", code, out, errOut, want)
	}

	code, out, _ = runIn(p, created.Add(30*time.Hour), false, "verify", "-o", "json", "--max-age", "26h", "--level", "archive")
	var rep struct {
		ID           string
		OK           bool
		Verification struct {
			Level string
			OK    bool
		}
		Newest   struct{ ID string }
		Problems []string
	}
	must(t, json.Unmarshal([]byte(out), &rep))
	if code != 1 || rep.OK || rep.ID != m.ID || !rep.Verification.OK || rep.Verification.Level != "archive" || rep.Newest.ID != m.ID || len(rep.Problems) != 1 {
		t.Errorf("-o json: exit %d, %+v", code, rep)
	}
}

func TestProgressOnlyOnATerminal(t *testing.T) {
	p := newProject(t, "")
	p.exec(p.url, seedSQL)
	backupAt(t, p, created)
	_, _, quiet := runIn(p, created, false, "verify", "--level", "checksum")
	_, _, shown := runIn(p, created, true, "verify", "--level", "checksum")
	if quiet != "" {
		t.Errorf("progress without a terminal: %q", quiet)
	}
	if !strings.Contains(shown, "verify ") || !strings.Contains(shown, "/s") || !strings.Contains(shown, "verified (checksum)") {
		t.Errorf("no progress on a terminal: %q", shown)
	}
	_, _, quiet = runIn(p, created, false, "create")
	_, _, shown = runIn(p, created, true, "create")
	if strings.Contains(quiet, "/s") || !strings.Contains(shown, "/s") {
		t.Errorf("create progress: without a terminal %q, on a terminal %q", quiet, shown)
	}
}

func TestUnreachableExits4(t *testing.T) {
	srv := httptest.NewServer(nil)
	endpoint := srv.URL
	srv.Close()
	p := newProject(t, "backup: {storage: {provider: s3, bucket: b, endpoint: "+endpoint+", path_style: true}}\n")
	p.env = append(p.env, "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=y", "AWS_REGION=eu-west-1", "AWS_MAX_ATTEMPTS=1")
	for _, args := range [][]string{{"backup", "list"}, {"backup", "verify", "latest", "--max-age", "26h"}} {
		r := p.run(args...)
		if r.code != 4 || strings.Count(r.err, "\n") != 1 || !strings.Contains(r.err, "cannot reach the s3 bucket b") {
			t.Errorf("%v with the bucket down: exit %d, stderr %q", args, r.code, r.err)
		}
	}

	q := newProject(t, "")
	q.exec(q.url, seedSQL)
	q.mustRun("backup", "create")
	q.env = append(q.env, "DEPLOYCTL_DATABASE_URL=postgres://u:canary-pw@127.0.0.1:1/db?connect_timeout=2")
	r := q.run("backup", "verify")
	if r.code != 4 || !strings.Contains(r.err, "cannot reach the database") || strings.Contains(r.err, "canary-pw") {
		t.Errorf("verify with the database down: exit %d, stderr %q", r.code, r.err)
	}
	if r := q.run("backup", "create"); r.code != 4 || strings.Contains(r.err, "canary-pw") {
		t.Errorf("create with the database down: exit %d, stderr %q", r.code, r.err)
	}
}

// TestRestoreIntoOwnDatabaseNeedsTheEnvironmentsName types the answer on a
// (simulated) terminal.
func TestRestoreIntoOwnDatabaseNeedsTheEnvironmentsName(t *testing.T) {
	p := newProject(t, "")
	p.exec(p.url, seedSQL)
	backupAt(t, p, created)
	p.exec(p.url, "DELETE FROM orders")
	for _, answer := range []string{"yes\n", "development\n"} {
		f := app.NewFactory(all.Registry())
		ios, in, _, errOut := ui.Test()
		ios.StdinTTY = true
		in.WriteString(answer)
		f.IO, f.Environ = ios, func() []string { return p.env }
		f.Flags.Env, f.Flags.ConfigDir, f.Flags.Output = "development", filepath.Join(p.dir, "environments"), "table"
		code := app.Run(context.Background(), f, clibackup.NewCmdBackup(f), []string{"restore", "latest", "--clean"})
		if !strings.Contains(errOut.String(), `Type "development" to confirm`) {
			t.Errorf("no typed confirmation asked: %q", errOut)
		}
		n := scalar(t, p.url, "SELECT count(*) FROM orders")
		switch answer {
		case "yes\n":
			if code != 1 || n != 0 || !strings.Contains(errOut.String(), "cancelled") {
				t.Errorf("answer yes instead of the name: exit %d, %d orders, %q", code, n, errOut)
			}
		default:
			if code != 0 || n != 600 {
				t.Errorf("answer with the name: exit %d, %d orders, %q", code, n, errOut)
			}
		}
	}
}

// TestCleanedUpScratchNotedOnlyOnATerminal: cron stays quiet about the
// scratch databases of killed verifies it drops; a person is told.
func TestCleanedUpScratchNotedOnlyOnATerminal(t *testing.T) {
	p := newProject(t, "")
	p.exec(p.url, seedSQL)
	backupAt(t, p, created)
	for _, tty := range []bool{false, true} {
		left := "deployctl_verify_20260101t000000z_" + map[bool]string{false: "cron", true: "tty"}[tty]
		p.exec(p.url, "CREATE DATABASE "+left)
		code, out, errOut := runIn(p, created.Add(time.Hour), tty, "verify", "latest")
		if code != 0 || scalar(t, p.url, "SELECT count(*) FROM pg_database WHERE datname = '"+left+"'") != 0 {
			t.Fatalf("tty %v: exit %d, %q %q; the left scratch database must be gone", tty, code, out, errOut)
		}
		note := "note: dropped the scratch database " + left + ", left by a verify that was killed\n"
		if tty != strings.Contains(errOut, note) || !tty && errOut != "" {
			t.Errorf("tty %v: stderr %q; want the note only on a terminal", tty, errOut)
		}
	}
}
