package checklist

import (
	"encoding/xml"
	"fmt"
	"os"
	"strings"
	"time"
)

// junitRun is what a JUnit report says.
type junitRun struct {
	tests, failed, skipped int
	failures               []string // names of failed cases, first few
	at                     time.Time
	atSource               string // "timestamp" attribute or "file time"
	commit                 string // from a commit property, if any
}

type xmlSuite struct {
	Name      string        `xml:"name,attr"`
	Tests     int           `xml:"tests,attr"`
	Failures  int           `xml:"failures,attr"`
	Errors    int           `xml:"errors,attr"`
	Skipped   int           `xml:"skipped,attr"`
	Timestamp string        `xml:"timestamp,attr"`
	Props     []xmlProperty `xml:"properties>property"`
	Cases     []xmlCase     `xml:"testcase"`
	Suites    []xmlSuite    `xml:"testsuite"`
}

type xmlProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type xmlCase struct {
	Name      string    `xml:"name,attr"`
	Classname string    `xml:"classname,attr"`
	Failure   *struct{} `xml:"failure"`
	Error     *struct{} `xml:"error"`
	Skipped   *struct{} `xml:"skipped"`
}

// commitProperties name the commit a report was made for.
var commitProperties = []string{"commit", "git.commit", "git_commit", "vcs.revision", "GIT_COMMIT", "CI_COMMIT_SHA", "GITHUB_SHA"}

// readJUnit reads a <testsuites> or <testsuite> report.
func readJUnit(path string) (junitRun, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return junitRun{}, err
	}
	// <testsuites> holds suites the way a <testsuite> holds nested ones.
	var root struct {
		XMLName xml.Name
		xmlSuite
	}
	if err := xml.Unmarshal(raw, &root); err != nil {
		return junitRun{}, fmt.Errorf("not a JUnit XML report: %v", err)
	}
	if n := root.XMLName.Local; n != "testsuite" && n != "testsuites" {
		return junitRun{}, fmt.Errorf("not a JUnit XML report: root element <%s>", n)
	}
	var r junitRun
	r.add(root.xmlSuite)
	if r.at.IsZero() {
		if st, err := os.Stat(path); err == nil {
			r.at, r.atSource = st.ModTime(), "file time"
		}
	}
	return r, nil
}

func (r *junitRun) add(s xmlSuite) {
	for _, p := range s.Props {
		for _, name := range commitProperties {
			if p.Name == name && r.commit == "" {
				r.commit = strings.TrimSpace(p.Value)
			}
		}
	}
	if t, ok := parseJUnitTime(s.Timestamp); ok && (r.at.IsZero() || t.Before(r.at)) {
		r.at, r.atSource = t, "timestamp"
	}
	if len(s.Cases) == 0 && len(s.Suites) == 0 {
		r.tests += s.Tests
		r.failed += s.Failures + s.Errors
		r.skipped += s.Skipped
	}
	for _, c := range s.Cases {
		r.tests++
		switch {
		case c.Failure != nil || c.Error != nil:
			r.failed++
			if len(r.failures) < 5 {
				r.failures = append(r.failures, strings.TrimPrefix(c.Classname+"."+c.Name, "."))
			}
		case c.Skipped != nil:
			r.skipped++
		}
	}
	for _, sub := range s.Suites {
		r.add(sub)
	}
}

// parseJUnitTime reads the timestamp attribute: ISO 8601, usually without a
// zone (taken as UTC), sometimes with one.
func parseJUnitTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func (r junitRun) counts() string {
	return fmt.Sprintf("%d tests, %d failed, %d skipped", r.tests, r.failed, r.skipped)
}
