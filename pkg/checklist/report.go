package checklist

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr,omitempty"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
}

type junitText struct {
	Text string `xml:",cdata"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Body    string `xml:",cdata"`
}

// WriteJUnit writes the report as JUnit XML for CI systems: one test case
// per check; fail is a failure, skip is skipped, warn passes with its
// summary in system-out.
func WriteJUnit(w io.Writer, r Report) error {
	suite := junitSuite{Name: "deployctl checklist " + r.Env}
	var total time.Duration
	for i, res := range r.Checks {
		if i == 0 || res.StartedAt.Before(parseTS(suite.Timestamp)) {
			suite.Timestamp = res.StartedAt.UTC().Format("2006-01-02T15:04:05")
		}
		total += res.Duration
		suite.Cases = append(suite.Cases, junitCaseOf(r.Env, res))
		suite.Tests++
		switch res.Status {
		case Fail:
			suite.Failures++
		case Skip:
			suite.Skipped++
		}
	}
	suite.Time = seconds(total)
	doc := junitSuites{Name: "deployctl checklist", Tests: suite.Tests, Failures: suite.Failures, Skipped: suite.Skipped, Time: suite.Time, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func junitCaseOf(env string, res Result) junitCase {
	c := junitCase{Name: res.ID, Classname: "checklist." + env, Time: seconds(res.Duration)}
	body := details(res)
	switch res.Status {
	case Fail:
		c.Failure = &junitMessage{Message: res.Summary, Body: body}
	case Skip:
		c.Skipped = &junitMessage{Message: res.Summary}
	default:
		c.SystemOut = &junitText{Text: fmt.Sprintf("%s: %s\n%s", res.Status, res.Summary, body)}
	}
	return c
}

// details is the evidence and the fix as plain text.
func details(res Result) string {
	var b strings.Builder
	for _, e := range res.Evidence {
		b.WriteString("- " + e + "\n")
	}
	if res.Waiver != nil {
		fmt.Fprintf(&b, "waiver: %s (expires %s)\n", res.Waiver.Reason, res.Waiver.Expires.UTC().Format(time.RFC3339))
	}
	if res.Fix != "" {
		b.WriteString("what to do: " + res.Fix + "\n")
	}
	return b.String()
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

func parseTS(s string) time.Time {
	t, _ := time.Parse("2006-01-02T15:04:05", s)
	return t
}
