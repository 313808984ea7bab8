package rollout_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/deployctl/deployctl/internal/testkit"
)

// TestE2EHealth: both slots probed; a dead slot makes it exit 1.
func TestE2EHealth(t *testing.T) {
	p := newProject(t, "")
	p.startSlot("blue")
	r := p.run("alice", "health", "-o", "json")
	var rep struct {
		OK    bool
		Slots []struct {
			Slot    string
			Live    *bool
			Ready   bool
			Version string
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 1 || rep.OK || len(rep.Slots) != 2 {
		t.Fatalf("exit %d %v\n%s", r.code, err, r.stdout)
	}
	if b, g := rep.Slots[0], rep.Slots[1]; !b.Ready || b.Live == nil || !*b.Live || b.Version != "v1" || g.Ready || *g.Live {
		t.Fatalf("slots: %+v", rep.Slots)
	}
	if r := p.run("alice", "health", "--slot", "blue"); r.code != 0 || !strings.Contains(r.stdout, "v1") {
		t.Fatalf("health --slot blue: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestE2EStatusJSONGolden checks the shape of `rollout status -o json`, a
// contract for scripts, with the values that change between runs masked.
func TestE2EStatusJSONGolden(t *testing.T) {
	p := newProject(t, "")
	p.startSlot("blue")
	p.startSlot("green")
	p.startProxy()
	p.must("rollout", "green", "--weight", "10", "--reason", "canary")
	out := p.must("rollout", "status", "-o", "json").stdout
	masks := []struct{ re, with string }{
		{`"latency_ms": [0-9.e-]+`, `"latency_ms": 0`},
		{`"at": "[^"]+"`, `"at": "TIME"`},
		{`127\.0\.0\.1:[0-9]+`, `127.0.0.1:PORT`},
		{`proxy pid [0-9]+`, `proxy pid PID`},
	}
	for _, m := range masks {
		out = regexp.MustCompile(m.re).ReplaceAllString(out, m.with)
	}
	golden := filepath.Join("testdata", "status.json.golden")
	if *testkit.Update {
		os.MkdirAll("testdata", 0o755)
		os.WriteFile(golden, []byte(out), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if out != string(want) {
		t.Fatalf("rollout status -o json changed; if on purpose, run with -update\n got:\n%s\nwant:\n%s", out, want)
	}
}
