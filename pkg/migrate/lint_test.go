package migrate

import (
	"fmt"
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

// The rules squawk has that the linter missed: each flags exactly the lines
// of its fixture, with the fix in the finding.
func TestLintLockAndRenameRules(t *testing.T) {
	migs, err := Load("testdata/lint")
	if err != nil {
		t.Fatal(err)
	}
	byFile := map[string]Migration{}
	for _, m := range migs {
		byFile[m.File] = m
	}
	cases := []struct {
		file, rule string
		lines      []int
		fix        string
	}{
		{"00015_unique_constraint_without_index.sql", RuleUniqueNoIndex, []int{2, 3, 4, 4}, "CREATE UNIQUE INDEX CONCURRENTLY"},
		{"00016_rename_column_or_table.sql", RuleRename, []int{2, 3, 4}, "add the new column"},
		{"00017_set_not_null_without_check.sql", RuleSetNotNull, []int{2, 5, 7}, "CHECK (col IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT, then SET NOT NULL"},
	}
	for _, c := range cases {
		t.Run(c.rule, func(t *testing.T) {
			m, ok := byFile[c.file]
			if !ok {
				t.Fatalf("no fixture %s", c.file)
			}
			var lines []int
			for _, f := range Lint(m) {
				if f.ID != c.rule {
					t.Errorf("unexpected finding %s", f)
					continue
				}
				lines = append(lines, f.Line)
				if !strings.Contains(f.Fix, c.fix) {
					t.Errorf("fix of %s lacks %q: %s", f.ID, c.fix, f.Fix)
				}
			}
			if fmt.Sprint(lines) != fmt.Sprint(c.lines) {
				t.Errorf("%s flagged on lines %v, want %v", c.rule, lines, c.lines)
			}
		})
	}
	if f := Lint(byFile["00018_safe_patterns_ok.sql"]); len(f) > 0 {
		t.Errorf("the safe forms are flagged: %v", f)
	}
}

// The new rules flag nothing in the fixtures written before them (each of
// which keeps exactly its golden findings, TestLintGolden) nor in the
// example migrations shipped in templates/.
func TestLintNewRulesNoFalsePositives(t *testing.T) {
	newRules := map[string]string{RuleUniqueNoIndex: "00015_", RuleRename: "00016_", RuleSetNotNull: "00017_"}
	var migs []Migration
	for _, dir := range []string{"testdata/lint", "../../templates/migrations"} {
		got, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			t.Fatalf("no migrations in %s", dir)
		}
		migs = append(migs, got...)
	}
	for _, m := range migs {
		for _, f := range Lint(m) {
			if prefix, ok := newRules[f.ID]; ok && !strings.HasPrefix(m.File, prefix) {
				t.Errorf("false positive of %s in %s: %s", f.ID, m.File, f)
			}
		}
	}
	tmpl, _ := Load("../../templates/migrations")
	if f := LintAll(tmpl); len(f) > 0 {
		t.Errorf("the template migrations have findings: %v", f)
	}
}

// A CHECK (col IS NOT NULL) validated in an earlier migration of the set
// counts for a SET NOT NULL in a later one (the fix of
// constraint-without-not-valid puts VALIDATE in a later migration).
func TestLintSetNotNullAfterEarlierValidatedCheck(t *testing.T) {
	parse := func(name, body string) Migration {
		m, err := Parse(name, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	add := parse("00001_check.sql", "-- +goose Up\nALTER TABLE users ADD CONSTRAINT users_email_nn CHECK (email IS NOT NULL) NOT VALID;\n-- +goose Down\nALTER TABLE users DROP CONSTRAINT users_email_nn;\n")
	validate := parse("00002_validate.sql", "-- +goose Up\nALTER TABLE users VALIDATE CONSTRAINT users_email_nn;\n-- +goose Down\nSELECT 1;\n")
	set := parse("00003_not_null.sql", "-- +goose Up\nALTER TABLE users ALTER COLUMN email SET NOT NULL;\n-- +goose Down\nALTER TABLE users ALTER COLUMN email DROP NOT NULL;\n")
	if f := LintAll([]Migration{add, validate, set}); len(f) > 0 {
		t.Errorf("validated in an earlier migration, still flagged: %v", f)
	}
	f := LintAll([]Migration{add, set})
	if len(f) != 1 || f[0].ID != RuleSetNotNull || f[0].File != "00003_not_null.sql" {
		t.Errorf("NOT VALID and never validated: %v, want one %s in 00003_not_null.sql", f, RuleSetNotNull)
	}
}
