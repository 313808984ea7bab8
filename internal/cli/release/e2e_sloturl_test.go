package release_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deployctl/deployctl/internal/testbin"
	"github.com/deployctl/deployctl/pkg/analysis/prometheus/promtest"
)

// On the local provider, `release --slot-url` points the candidate slot at
// the URL where the operator started the new version: the running proxy
// acknowledges serving green from there, the release goes through its
// steps (the analysis judging that backend) to promotion, and real
// requests through the proxy then reach it, never green's configured URL.
func TestE2EReleaseSlotURL(t *testing.T) {
	p := newProject(t)
	addr := fmt.Sprintf("127.0.0.1:%d", testbin.FreePort(t))
	second := "http://" + addr
	testbin.DemoSlot(t, bin.demoAPI, p.dir, "green", addr, "v3")
	// the analysis reads the backend the traffic goes to: a Prometheus
	// scraping blue and the second green
	prom := promtest.Start(t, promtest.Options{Scrape: []string{strings.TrimPrefix(p.blue, "http://"), addr}})
	warm(t, prom, p.blue, second)
	p.env = append(p.env, "DEPLOYCTL_ANALYSIS_PROMETHEUS_URL="+prom.URL)

	dry := p.must(append(releaseArgs, "--slot-url", second, "--dry-run")...)
	if !strings.Contains(dry.stdout, "point the green slot at "+second) {
		t.Fatalf("the plan does not point green at %s:\n%s", second, dry.stdout)
	}
	r := p.must(append(releaseArgs, "--slot-url", second)...)
	if !strings.Contains(r.stdout, "succeeded (blue → green)") {
		t.Fatalf("release:\n%s%s", r.stdout, r.stderr)
	}
	p.servesOnly("v3")

	rs := p.releases()
	if len(rs) != 1 {
		t.Fatalf("releases: %+v", rs)
	}
	if rec := rs[0]; rec.Status != "succeeded" || rec.Slot != "green" || rec.SlotURL != second || rec.Version != "v3" {
		t.Fatalf("the record: %+v", rec)
	}

	// what the proxy acknowledged, and what status shows
	if ack := p.ackedSlots(); ack["green"].URL != second || !ack["green"].Override || ack["blue"].URL != p.blue {
		t.Fatalf("the proxy's ack: %+v", ack)
	}
	st := p.must("rollout", "status").stdout
	if !strings.Contains(st, "GET "+second+"/health/readiness") || !strings.Contains(st, "green from "+second) {
		t.Fatalf("rollout status does not show green served from %s:\n%s", second, st)
	}
}

// An unusable --slot-url is refused with exit 2 (a bad flag) before
// anything runs or is recorded: no release, nothing written to the proxy's
// state, the users stay on v1. A URL with a password is refused without the
// password appearing anywhere.
func TestE2EReleaseSlotURLRefused(t *testing.T) {
	p := newProject(t)
	state := filepath.Join(p.dir, ".deployctl", "development", "state", "proxy.json")
	before, _ := os.ReadFile(state)
	const canary = "s3cr3t-canary-7f1"
	for url, want := range map[string]string{
		"ftp://127.0.0.1:3012":                        "must be an absolute http or https URL",
		"http://deploy:" + canary + "@127.0.0.1:3012": "carries credentials",
	} {
		r := p.run(append(releaseArgs, "--slot-url", url)...)
		if r.code != 2 || !strings.Contains(r.stderr+r.stdout, want) {
			t.Fatalf("release --slot-url %s: exit %d, want 2 and %q\n%s%s", url, r.code, want, r.stdout, r.stderr)
		}
		if strings.Contains(r.stderr+r.stdout, canary) {
			t.Fatalf("the password of --slot-url was printed:\n%s%s", r.stdout, r.stderr)
		}
	}
	if after, _ := os.ReadFile(state); string(after) != string(before) {
		t.Fatalf("the proxy's state was written:\n%s", after)
	}
	if rs := p.releases(); len(rs) != 0 {
		t.Fatalf("a refused --slot-url was recorded as %s", rs[0].Status)
	}
	_ = filepath.Walk(p.dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			if raw, _ := os.ReadFile(path); strings.Contains(string(raw), canary) {
				t.Errorf("the password of --slot-url is in %s", path)
			}
		}
		return nil
	})
	p.servesOnly("v1")
}

// `deployctl rollback vN` to a release made with --slot-url points the
// standby slot back at vN's URL when it is served from another one now:
// v1 green (its setting, v2), v2 blue --slot-url a second backend (v3), v3
// green, v4 blue --slot-url its own setting (v1) again. Rolling back to v2
// puts v2's backend on green, the standby served from green's setting:
//
//   - the plan says green is pointed at v2's URL and that the traffic moves
//     at once without analysis by design (Prometheus is configured here);
//   - with v2's backend stopped the rollback is refused with exit 1, saying
//     what to start where; the traffic, the proxy's state and the releases
//     are as they were;
//   - with it started again, the rollback points green there (the running
//     proxy acknowledges it), checks it and moves all traffic: real requests
//     through the proxy reach v2's backend.
func TestE2ERollbackPointsTheSlotBackAtItsURL(t *testing.T) {
	p := newProject(t)
	addr := fmt.Sprintf("127.0.0.1:%d", testbin.FreePort(t))
	second := "http://" + addr
	// labelled blue: it is the blue slot's backend in v2, which the analysis judges
	v2backend := testbin.DemoSlot(t, bin.demoAPI, p.dir, "blue", addr, "v3")
	prom := promtest.Start(t, promtest.Options{Scrape: []string{strings.TrimPrefix(p.blue, "http://"), strings.TrimPrefix(p.green, "http://"), addr}})
	warm(t, prom, p.blue, p.green, second)
	p.env = append(p.env, "DEPLOYCTL_ANALYSIS_PROMETHEUS_URL="+prom.URL)

	args := []string{"release", "--steps", "100", "--skip-checklist", "--reason", "e2e", "--fast", "--yes"}
	p.must(args...) // v1: green, v2
	p.must(append(args, "--slot-url", second)...)
	p.servesOnly("v3") // v2: blue at the second backend
	p.must(args...)    // v3: green, v2
	p.must(append(args, "--slot-url", p.blue)...)
	p.servesOnly("v1") // v4: blue at its setting again; green, the standby, at its own

	dry := p.must("rollback", "v2", "--dry-run").stdout
	for _, want := range []string{
		"point the green slot at " + second + ", where v2 ran,",
		"all traffic to green at once: blue 0 / green 100, no analysis: a rollback returns to a release that ran",
	} {
		if !strings.Contains(dry, want) {
			t.Errorf("rollback v2 --dry-run lacks %q:\n%s", want, dry)
		}
	}
	if strings.Contains(dry, "prometheus_url is not set") {
		t.Errorf("the rollback's plan claims analysis.prometheus_url is not set; it is:\n%s", dry)
	}

	// v2's backend is gone: refused, nothing changed
	if err := v2backend.Stop(); err != nil {
		t.Logf("v2's backend stopped: %v", err)
	}
	statePath := filepath.Join(p.dir, ".deployctl", "development", "state", "proxy.json")
	before, _ := os.ReadFile(statePath)
	r := p.run("rollback", "v2", "--yes", "--reason", "e2e")
	if r.code != 1 {
		t.Fatalf("rollback v2 with nothing at %s: exit %d, want 1\n%s%s", second, r.code, r.stdout, r.stderr)
	}
	t.Logf("the refusal:\n%s", r.stderr)
	for _, want := range []string{"v2 ran at " + second, "start v2's version v3 at " + second, "nothing was changed"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the refusal lacks %q:\n%s", want, r.stderr)
		}
	}
	p.servesOnly("v1")
	if after, _ := os.ReadFile(statePath); string(after) != string(before) {
		t.Errorf("a refused rollback changed the proxy's state:\nbefore %s\nafter  %s", before, after)
	}
	if rs := p.releases(); len(rs) != 4 {
		t.Fatalf("a refused rollback was recorded: %d releases", len(rs))
	}

	// started again where v2 ran: green pointed there, then all traffic
	testbin.DemoSlot(t, bin.demoAPI, p.dir, "blue", addr, "v3")
	r = p.must("rollback", "v2", "--yes", "--reason", "e2e")
	if !strings.Contains(r.stdout, "rollback v5 of development: succeeded (blue → green)") || !strings.Contains(r.stderr, "back on v2: green serves all traffic (read back), version v3") {
		t.Fatalf("rollback v2:\n%s%s", r.stdout, r.stderr)
	}
	p.servesOnly("v3")

	rs := p.releases()
	if len(rs) != 5 {
		t.Fatalf("releases: %+v", rs)
	}
	if rb := rs[0]; rb.Number != 5 || rb.Kind != "rollback" || rb.Status != "succeeded" || rb.Slot != "green" || rb.SlotURL != second || rb.Version != "v3" || rb.RollbackOf != 2 {
		t.Fatalf("the rollback's record: %+v", rb)
	}
	if ack := p.ackedSlots(); ack["green"].URL != second || !ack["green"].Override || ack["blue"].URL != p.blue {
		t.Fatalf("the proxy's ack after the rollback: %+v", ack)
	}
}

// ackedSlot is what the running proxy acknowledged serving a slot from.
type ackedSlot struct {
	URL      string `json:"url"`
	Override bool   `json:"override"`
}

// ackedSlots reads the proxy's acknowledgement: the URL of each slot.
func (p *project) ackedSlots() map[string]ackedSlot {
	p.t.Helper()
	data, err := os.ReadFile(filepath.Join(p.dir, ".deployctl", "development", "proxy.ack.json"))
	if err != nil {
		p.t.Fatal(err)
	}
	var ack struct {
		Slots map[string]ackedSlot `json:"slots"`
	}
	if err := json.Unmarshal(data, &ack); err != nil {
		p.t.Fatalf("the proxy's ack: %v\n%s", err, data)
	}
	return ack.Slots
}

// A release made without --slot-url records where its slot was served from
// (served_from), so `deployctl rollback vN` points the standby back there:
// v1 green from its setting (v2), v2 blue --slot-url a second backend (v3),
// v3 green --slot-url a third (v4). Rolling back to v1 points blue, the
// standby, at green's setting, where v2 still answers: real requests
// through the proxy reach it.
func TestE2ERollbackPointsTheSlotBackWhereAReleaseRan(t *testing.T) {
	p := newProject(t)
	secondAddr, thirdAddr := fmt.Sprintf("127.0.0.1:%d", testbin.FreePort(t)), fmt.Sprintf("127.0.0.1:%d", testbin.FreePort(t))
	second, third := "http://"+secondAddr, "http://"+thirdAddr
	// labelled by the slot each serves in its release, which the analysis judges
	testbin.DemoSlot(t, bin.demoAPI, p.dir, "blue", secondAddr, "v3")
	testbin.DemoSlot(t, bin.demoAPI, p.dir, "green", thirdAddr, "v4")
	prom := promtest.Start(t, promtest.Options{Scrape: []string{strings.TrimPrefix(p.blue, "http://"), strings.TrimPrefix(p.green, "http://"), secondAddr, thirdAddr}})
	warm(t, prom, p.blue, p.green, second, third)
	p.env = append(p.env, "DEPLOYCTL_ANALYSIS_PROMETHEUS_URL="+prom.URL)

	args := []string{"release", "--steps", "100", "--skip-checklist", "--reason", "e2e", "--fast", "--yes"}
	p.must(args...) // v1: green from its setting, v2
	p.must(append(args, "--slot-url", second)...)
	p.servesOnly("v3") // v2: blue at the second backend
	p.must(append(args, "--slot-url", third)...)
	p.servesOnly("v4") // v3: green at the third; blue, the standby, at the second

	if v1 := p.releases()[2]; v1.Number != 1 || v1.ServedFrom != p.green || v1.SlotURL != "" {
		t.Fatalf("v1's record: served from %q, slot URL %q; want %s and none", v1.ServedFrom, v1.SlotURL, p.green)
	}
	if dry := p.must("rollback", "v1", "--dry-run").stdout; !strings.Contains(dry, "point the blue slot at "+p.green+", where v1 ran,") {
		t.Errorf("rollback v1 --dry-run does not point blue back at %s:\n%s", p.green, dry)
	}
	r := p.must("rollback", "v1", "--yes", "--reason", "e2e")
	if !strings.Contains(r.stdout, "succeeded (green → blue)") {
		t.Fatalf("rollback v1:\n%s%s", r.stdout, r.stderr)
	}
	p.servesOnly("v2")
	if ack := p.ackedSlots(); ack["blue"].URL != p.green || ack["green"].URL != third {
		t.Fatalf("the proxy's ack after the rollback: %+v", ack)
	}
}
