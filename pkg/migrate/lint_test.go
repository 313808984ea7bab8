package migrate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deployctl/deployctl/internal/testkit"
)

// Each file of testdata/lint exercises one rule (or shows what it must not
// flag); its findings are compared with testdata/lint/<file>.golden.
func TestLintGolden(t *testing.T) {
	migs, err := Load("testdata/lint")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range migs {
		t.Run(strings.TrimSuffix(m.File, ".sql"), func(t *testing.T) {
			var b strings.Builder
			for _, f := range Lint(m) {
				b.WriteString(f.String() + "\n")
			}
			golden := filepath.Join("testdata", "lint", strings.TrimSuffix(m.File, ".sql")+".golden")
			if *testkit.Update {
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if b.String() != string(want) {
				t.Errorf("findings of %s:\n%s\nwant:\n%s", m.File, b.String(), want)
			}
			ruleFile := strings.ReplaceAll(strings.SplitN(m.File, "_", 2)[1], "_", "-")
			if rule := strings.TrimSuffix(ruleFile, ".sql"); fixes[rule] != "" && !strings.Contains(b.String(), "["+rule+"]") {
				t.Errorf("%s does not trigger its rule %s", m.File, rule)
			}
			if strings.HasSuffix(m.File, "_ok.sql") && b.Len() > 0 {
				t.Errorf("%s should have no findings", m.File)
			}
		})
	}
}

func TestEveryRuleHasAGoldenFile(t *testing.T) {
	entries, _ := os.ReadDir("testdata/lint")
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	all := strings.Join(names, " ")
	for rule := range fixes {
		if !strings.Contains(all, strings.ReplaceAll(rule, "-", "_")+".sql") {
			t.Errorf("rule %s has no file in testdata/lint", rule)
		}
	}
}
