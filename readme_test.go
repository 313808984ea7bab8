package deployctl

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/deployctl/deployctl/internal/testkit"
)

// README.md's sample of the demo is docs/demo-output.txt's real output for
// the commands its marker names (scripts/demo-docs runs the demo and
// rewrites both): it cannot drift from what the demo prints.
func TestReadmeSample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile("docs/demo-output.txt")
	if err != nil {
		t.Fatal(err)
	}
	marker := regexp.MustCompile("(?s)<!-- demo-sample: ([^>]*) -->\n```\n(.*?)```\n<!-- demo-sample end -->")
	m := marker.FindSubmatchIndex(readme)
	if m == nil {
		t.Fatal("README.md has no <!-- demo-sample: … --> block")
	}
	var want strings.Builder
	for _, cmd := range strings.Split(string(readme[m[2]:m[3]]), "|") {
		block := demoBlock(string(out), strings.TrimSpace(cmd))
		if block == "" {
			t.Fatalf("docs/demo-output.txt has no command %q: run scripts/demo-docs", strings.TrimSpace(cmd))
		}
		want.WriteString(block)
	}
	if got := string(readme[m[4]:m[5]]); got != want.String() {
		if *testkit.Update {
			fresh := string(readme[:m[4]]) + want.String() + string(readme[m[5]:])
			if err := os.WriteFile("README.md", []byte(fresh), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Fatalf("README.md's sample is not the demo's output; run scripts/demo-docs (or go test -run TestReadmeSample . -update)\n got:\n%s\nwant:\n%s", got, want.String())
	}
}

// demoBlock is the first "$ cmd…" line of out that starts with cmd, and the
// lines it printed: up to the next command, step or blank line.
func demoBlock(out, cmd string) string {
	lines := strings.Split(strings.ReplaceAll(out, "\r\n", "\n"), "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "$ "+cmd) {
			continue
		}
		var b strings.Builder
		b.WriteString(l + "\n")
		for _, next := range lines[i+1:] {
			if next == "" || strings.HasPrefix(next, "$ ") || strings.HasPrefix(next, "━━") {
				break
			}
			b.WriteString(next + "\n")
		}
		return b.String() + "\n"
	}
	return ""
}
