package checklist

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// gitRepo makes a real repository with one commit and returns its folder
// and the commit.
func gitRepo(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	git := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git("add", ".")
	git("commit", "-q", "-m", "first")
	return dir, git("rev-parse", "HEAD")
}

func junitXML(commit string, stamp time.Time, failing bool) string {
	prop := ""
	if commit != "" {
		prop = fmt.Sprintf(`<properties><property name="commit" value="%s"/></properties>`, commit)
	}
	fail := ""
	if failing {
		fail = `<testcase classname="api" name="TestLogin"><failure message="want 200">got 500</failure></testcase>`
	}
	return fmt.Sprintf(`<?xml version="1.0"?>
<testsuites><testsuite name="api" tests="3" timestamp="%s">%s
<testcase classname="api" name="TestHealth" time="0.01"/>
<testcase classname="api" name="TestSkip"><skipped/></testcase>%s
</testsuite></testsuites>`, stamp.UTC().Format("2006-01-02T15:04:05"), prop, fail)
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func commandCheck(dir string) CommandCheck {
	return CommandCheck{ID: Tests, MaxAge: 24 * time.Hour, Shell: Shell{Dir: dir}, Now: time.Now, Commit: GitCommit(dir)}
}

func TestCommandCheckRunsCommand(t *testing.T) {
	dir, _ := gitRepo(t)
	c := commandCheck(dir)
	c.Run = "echo compiling; echo 'FAIL: TestLogin' >&2; exit 3"
	o := c.run(t.Context())
	if o.Status != Fail || !strings.Contains(o.Summary, "failed (exit 3)") || !strings.Contains(o.Fix, "run `echo compiling") {
		t.Fatalf("failing command: %+v", o)
	}
	ev := strings.Join(o.Evidence, "\n")
	if !strings.Contains(ev, "ran `echo compiling") || !strings.Contains(ev, "FAIL: TestLogin") {
		t.Errorf("evidence %q lacks the command and its output", ev)
	}
	c.Run = "test -f main.go"
	if o := c.run(t.Context()); o.Status != Pass || !strings.Contains(o.Summary, "passed in") {
		t.Fatalf("passing command in the project folder: %+v", o)
	}
}

func TestCommandCheckRunWritesJUnit(t *testing.T) {
	dir, _ := gitRepo(t)
	c := commandCheck(dir)
	c.JUnit = filepath.Join(dir, "out", "junit.xml")
	write(t, filepath.Join(dir, "fresh.xml"), junitXML("", time.Now(), false))
	write(t, filepath.Join(dir, "failing.xml"), junitXML("", time.Now(), true))
	c.Run = "mkdir -p out && cp fresh.xml out/junit.xml"
	if o := c.run(t.Context()); o.Status != Pass || !strings.Contains(o.Summary, "(2 tests, 0 failed, 1 skipped)") {
		t.Fatalf("fresh report: %+v", o)
	}
	c.Run = "cp failing.xml out/junit.xml"
	if o := c.run(t.Context()); o.Status != Fail || o.Summary != "1 of 3 tests failed: api.TestLogin" {
		t.Fatalf("failing report: %+v", o)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(c.JUnit, old, old); err != nil {
		t.Fatal(err)
	}
	c.Run = "true"
	if o := c.run(t.Context()); o.Status != Fail || !strings.Contains(o.Summary, "did not write") {
		t.Fatalf("stale report: %+v", o)
	}
}

func TestCommandCheckReadsReportForCommit(t *testing.T) {
	dir, head := gitRepo(t)
	now := time.Now()
	cases := []struct {
		name, path, content, want string
		status                    Status
	}{
		{"path names commit", "reports/junit-{{commit}}.xml", junitXML("", now.Add(-time.Hour), false), "2 tests, 0 failed, 1 skipped in the JUnit report", Pass},
		{"property names commit", "reports/junit.xml", junitXML(head[:10], now.Add(-time.Hour), false), "2 tests, 0 failed, 1 skipped in the JUnit report", Pass},
		{"other commit", "reports/junit.xml", junitXML("0123456789ab", now, false), "the JUnit report is for commit 0123456789ab, not the current " + head[:12], Fail},
		{"no commit", "reports/junit.xml", junitXML("", now, false), "cannot tell which commit", Fail},
		{"too old", "reports/junit-{{commit}}.xml", junitXML("", now.Add(-25*time.Hour), false), "the JUnit report is 1d1h old (max_age 1d)", Fail},
		{"failures", "reports/junit-{{commit}}.xml", junitXML("", now, true), "1 of 3 tests failed: api.TestLogin", Fail},
		{"missing", "reports/none-{{commit}}.xml", "", "no JUnit report for commit " + head[:12], Fail},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := commandCheck(dir)
			c.JUnit = filepath.Join(dir, tc.path)
			if tc.content != "" {
				write(t, strings.ReplaceAll(c.JUnit, CommitPlaceholder, head), tc.content)
			}
			o := c.run(t.Context())
			if o.Status != tc.status || !strings.Contains(o.Summary, tc.want) {
				t.Fatalf("got %s %q, want %s %q\nevidence %v", o.Status, o.Summary, tc.status, tc.want, o.Evidence)
			}
			if tc.status == Fail && o.Fix == "" {
				t.Error("a failure without what to do")
			}
		})
	}
}

func TestCommandCheckNotConfigured(t *testing.T) {
	o := CommandCheck{ID: Security, Now: time.Now}.run(t.Context())
	if o.Status != Fail || !strings.Contains(o.Fix, "checklist.security.run") {
		t.Fatalf("%+v", o)
	}
}

// A command that outlives its deadline is killed with its children.
func TestCommandCheckKillsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	c := CommandCheck{ID: Tests, Run: "sleep 60 & echo $! > " + pidFile + "; wait", Shell: Shell{Dir: dir}, Now: time.Now}
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	o := c.run(ctx)
	if o.Status != Fail || !strings.Contains(o.Summary, "did not finish") {
		t.Fatalf("%+v", o)
	}
	raw, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		// Gone, or a zombie waiting for an init that may never reap it.
		stat, err := os.ReadFile("/proc/" + strings.TrimSpace(string(raw)) + "/stat")
		if f := strings.Fields(string(stat)); err != nil || len(f) > 2 && f[2] == "Z" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the command's child outlived the deadline")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
