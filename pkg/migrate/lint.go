package migrate

import (
	"fmt"
	"regexp"
	"strings"
)

// Severities of findings. validate fails on errors (and on warnings with
// --strict).
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

// Finding is one lint finding.
type Finding struct {
	ID       string `json:"id"`
	Severity string `json:"severity"`
	File     string `json:"file"`
	Line     int    `json:"line"`
	Message  string `json:"message"`
	Fix      string `json:"fix"`
}

func (f Finding) String() string {
	return fmt.Sprintf("%s:%d: %s [%s] %s; fix: %s", f.File, f.Line, f.Severity, f.ID, f.Message, f.Fix)
}

// Rule ids.
const (
	RuleMissingDown       = "missing-down"
	RuleDropTable         = "drop-table"
	RuleDropColumn        = "drop-column"
	RuleTruncate          = "truncate"
	RuleAlterColumnType   = "alter-column-type"
	RuleIndexNotConcurr   = "create-index-not-concurrently"
	RuleConcurrentlyInTx  = "concurrently-in-transaction"
	RuleNotNullNoDefault  = "add-column-not-null-without-default"
	RuleConstraintNoValid = "constraint-without-not-valid"
	RuleNoTxMultiple      = "no-transaction-multiple-statements"
	RuleUniqueNoIndex     = "unique-constraint-without-index"
	RuleRename            = "rename-column-or-table"
	RuleSetNotNull        = "set-not-null-without-check"
)

var fixes = map[string]string{
	RuleMissingDown:       "add a '-- +goose Down' section that undoes the change, or mark the file '-- deployctl:irreversible <reason>'",
	RuleDropTable:         "ship code that no longer uses the table first, take a backup, and mark the file '-- deployctl:irreversible <reason>'",
	RuleDropColumn:        "stop reading and writing the column in one release, drop it in a later migration",
	RuleTruncate:          "delete the rows you mean with a WHERE clause, or do this outside migrations",
	RuleAlterColumnType:   "add a new column, backfill it in batches, switch the code, then drop the old column (a type change rewrites the table under an ACCESS EXCLUSIVE lock)",
	RuleIndexNotConcurr:   "use CREATE INDEX CONCURRENTLY, alone in a file marked '-- +goose NO TRANSACTION'",
	RuleConcurrentlyInTx:  "mark the file '-- +goose NO TRANSACTION' and keep that statement alone in it",
	RuleNotNullNoDefault:  "add the column with a DEFAULT, or nullable, backfill it, then SET NOT NULL",
	RuleConstraintNoValid: "add the constraint with NOT VALID, then VALIDATE CONSTRAINT in a later migration",
	RuleNoTxMultiple:      "put each statement in a migration of its own: a failure half-way leaves the earlier ones applied",
	RuleUniqueNoIndex:     "CREATE UNIQUE INDEX CONCURRENTLY … alone in a NO TRANSACTION migration, then ADD CONSTRAINT … UNIQUE USING INDEX … (or PRIMARY KEY USING INDEX …)",
	RuleRename:            "add the new column (or table), backfill it and keep both in step, switch the code, drop the old one in a later release",
	RuleSetNotNull:        "ADD CONSTRAINT … CHECK (col IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT, then SET NOT NULL (PostgreSQL skips the scan) and drop the CHECK",
}

var severities = map[string]string{RuleConcurrentlyInTx: SeverityError, RuleNotNullNoDefault: SeverityError}

// acknowledged are the rules about losing data that a file marked
// irreversible has owned up to.
var acknowledged = map[string]bool{RuleDropTable: true, RuleDropColumn: true, RuleTruncate: true}

func finding(id string, m Migration, line int, format string, a ...any) Finding {
	sev := severities[id]
	if sev == "" {
		sev = SeverityWarning
	}
	return Finding{ID: id, Severity: sev, File: m.File, Line: line, Message: fmt.Sprintf(format, a...), Fix: fixes[id]}
}

// Lint checks one migration's up section. Tables created in the same file
// are new and empty, so the rules about locks and data do not apply to them.
// A file marked irreversible needs no down section, and its DROP TABLE, DROP
// COLUMN and TRUNCATE are taken as meant.
func Lint(m Migration) []Finding {
	return (&linter{}).lint(m)
}

// LintAll lints every migration, in order: a CHECK (col IS NOT NULL)
// validated in an earlier one counts for a SET NOT NULL in a later one.
func LintAll(migs []Migration) []Finding {
	var out []Finding
	l := &linter{}
	for _, m := range migs {
		out = append(out, l.lint(m)...)
	}
	return out
}

// lintByFile is LintAll by file name.
func lintByFile(migs []Migration) map[string][]Finding {
	out := map[string][]Finding{}
	l := &linter{}
	for _, m := range migs {
		out[m.File] = l.lint(m)
	}
	return out
}

// linter is what linting knows while it reads migrations in order: the
// tables the current file created, and the CHECK (col IS NOT NULL)
// constraints seen so far.
type linter struct {
	m       Migration
	created map[string]bool
	checks  []notNullCheck
}

// notNullCheck is a CHECK (column IS NOT NULL) constraint; valid once it
// was added without NOT VALID or validated.
type notNullCheck struct {
	table, column, name string
	valid               bool
}

func (l *linter) lint(m Migration) []Finding {
	l.m, l.created = m, map[string]bool{}
	var out []Finding
	if !m.HasDown && !m.Irreversible {
		out = append(out, finding(RuleMissingDown, m, 1, "no down section: this migration cannot be rolled back"))
	}
	if !m.UseTx && len(m.Up) > 1 {
		out = append(out, finding(RuleNoTxMultiple, m, m.Up[1].Line, "%d statements run outside a transaction", len(m.Up)))
	}
	for _, st := range m.Up {
		sql := normalize(st.SQL)
		if mm := reCreateTable.FindStringSubmatch(sql); mm != nil {
			l.created[ident(mm[1])] = true
		}
		for _, f := range l.statement(st.Line, sql) {
			if !(m.Irreversible && acknowledged[f.ID]) {
				out = append(out, f)
			}
		}
	}
	return out
}

var (
	reCreateTable = regexp.MustCompile(`(?i)^CREATE (?:(?:GLOBAL |LOCAL )?(?:TEMP|TEMPORARY|UNLOGGED) )?TABLE (?:IF NOT EXISTS )?(\S+?)\s?\(`)
	reDropTable   = regexp.MustCompile(`(?i)^DROP TABLE (?:IF EXISTS )?(.+?)(?: CASCADE| RESTRICT)?;?$`)
	reTruncate    = regexp.MustCompile(`(?i)^TRUNCATE (?:TABLE )?(?:ONLY )?(.+?)(?: RESTART IDENTITY| CONTINUE IDENTITY)?(?: CASCADE| RESTRICT)?;?$`)
	reAlterTable  = regexp.MustCompile(`(?i)^ALTER TABLE (?:IF EXISTS )?(?:ONLY )?(\S+) (.+?);?$`)
	reCreateIndex = regexp.MustCompile(`(?i)^CREATE (?:UNIQUE )?INDEX (CONCURRENTLY )?(?:IF NOT EXISTS )?(?:\S+ )?ON (?:ONLY )?([^\s(]+)`)
	reConcurrent  = regexp.MustCompile(`(?i)^(?:DROP INDEX|REINDEX (?:INDEX|TABLE|SCHEMA|DATABASE)|REFRESH MATERIALIZED VIEW) CONCURRENTLY`)
	reDropAction  = regexp.MustCompile(`(?i)^DROP (?:COLUMN )?(?:IF EXISTS )?(\S+)`)
	reTypeAction  = regexp.MustCompile(`(?i)^ALTER (?:COLUMN )?(\S+) (?:SET DATA )?TYPE `)
	reAddConstr   = regexp.MustCompile(`(?i)^ADD (?:CONSTRAINT \S+ )?(FOREIGN KEY|CHECK)\b`)
	reAddColumn   = regexp.MustCompile(`(?i)^ADD (?:COLUMN )?(?:IF NOT EXISTS )?(\S+) `)
	reNotNull     = regexp.MustCompile(`(?i)\bNOT NULL\b`)
	reDefault     = regexp.MustCompile(`(?i)\b(DEFAULT|GENERATED)\b`)
	reNotValid    = regexp.MustCompile(`(?i)\bNOT VALID\b`)
	reKeyword     = regexp.MustCompile(`(?i)^ADD (CONSTRAINT|PRIMARY|UNIQUE|FOREIGN|CHECK|EXCLUDE)\b`)
	reAddKey      = regexp.MustCompile(`(?i)^ADD (?:CONSTRAINT \S+ )?(UNIQUE|PRIMARY KEY)\b`)
	reUsingIndex  = regexp.MustCompile(`(?i)\bUSING INDEX \S+`)
	reNotNullChk  = regexp.MustCompile(`(?i)^ADD (?:CONSTRAINT (\S+) )?CHECK ?\( ?\(? ?("[^"]+"|[\w$]+) IS NOT NULL ?\)? ?\)`)
	reValidate    = regexp.MustCompile(`(?i)^VALIDATE CONSTRAINT (\S+)$`)
	reSetNotNull  = regexp.MustCompile(`(?i)^ALTER (?:COLUMN )?(\S+) SET NOT NULL$`)
	reRenameTable = regexp.MustCompile(`(?i)^RENAME TO (\S+)$`)
	reRenameCol   = regexp.MustCompile(`(?i)^RENAME (?:COLUMN )?(\S+) TO (\S+)$`)
	reRenameConst = regexp.MustCompile(`(?i)^RENAME CONSTRAINT `)
)

func (l *linter) statement(line int, sql string) []Finding {
	m := l.m
	var out []Finding
	isNew := func(t string) bool { return l.created[ident(t)] }
	switch {
	case reDropTable.MatchString(sql):
		for _, t := range splitTop(reDropTable.FindStringSubmatch(sql)[1]) {
			if !isNew(t) {
				out = append(out, finding(RuleDropTable, m, line, "DROP TABLE %s deletes the table and its data", ident(t)))
			}
		}
	case reTruncate.MatchString(sql):
		out = append(out, finding(RuleTruncate, m, line, "TRUNCATE %s deletes every row", reTruncate.FindStringSubmatch(sql)[1]))
	case reCreateIndex.MatchString(sql):
		mm := reCreateIndex.FindStringSubmatch(sql)
		switch {
		case mm[1] != "" && m.UseTx:
			out = append(out, finding(RuleConcurrentlyInTx, m, line, "CREATE INDEX CONCURRENTLY cannot run inside a transaction: this migration will fail"))
		case mm[1] == "" && !isNew(mm[2]):
			out = append(out, finding(RuleIndexNotConcurr, m, line, "CREATE INDEX on existing table %s blocks its writes while the index builds", ident(mm[2])))
		}
	case reConcurrent.MatchString(sql) && m.UseTx:
		out = append(out, finding(RuleConcurrentlyInTx, m, line, "%s cannot run inside a transaction: this migration will fail", reConcurrent.FindString(sql)))
	case reAlterTable.MatchString(sql):
		mm := reAlterTable.FindStringSubmatch(sql)
		table := ident(mm[1])
		if isNew(table) {
			// A new table renamed is still new.
			if rn := reRenameTable.FindStringSubmatch(mm[2]); rn != nil {
				l.created[ident(rn[1])] = true
			}
			return nil
		}
		for _, a := range splitTop(mm[2]) {
			out = append(out, l.action(line, table, a)...)
		}
	}
	return out
}

func (l *linter) action(line int, table, a string) []Finding {
	m := l.m
	if mm := reNotNullChk.FindStringSubmatch(a); mm != nil {
		l.checks = append(l.checks, notNullCheck{table: table, column: ident(mm[2]), name: ident(mm[1]), valid: !reNotValid.MatchString(a)})
	}
	switch {
	case reAddConstr.MatchString(a):
		if !reNotValid.MatchString(a) {
			kind := strings.ToUpper(reAddConstr.FindStringSubmatch(a)[1])
			return []Finding{finding(RuleConstraintNoValid, m, line, "adding a %s constraint to %s without NOT VALID checks every row under a lock", kind, table)}
		}
	case reAddKey.MatchString(a):
		if !reUsingIndex.MatchString(a) {
			kind := strings.ToUpper(reAddKey.FindStringSubmatch(a)[1])
			return []Finding{finding(RuleUniqueNoIndex, m, line, "ADD %s on existing table %s builds its index under an ACCESS EXCLUSIVE lock: reads and writes wait until it is built", kind, table)}
		}
	case reKeyword.MatchString(a):
	case reValidate.MatchString(a):
		name := ident(reValidate.FindStringSubmatch(a)[1])
		for i := range l.checks {
			if l.checks[i].table == table && l.checks[i].name == name {
				l.checks[i].valid = true
			}
		}
	case reSetNotNull.MatchString(a):
		col := ident(reSetNotNull.FindStringSubmatch(a)[1])
		if !l.validCheck(table, col) {
			return []Finding{finding(RuleSetNotNull, m, line, "SET NOT NULL on %s.%s scans the whole table under an ACCESS EXCLUSIVE lock", table, col)}
		}
	case reRenameConst.MatchString(a):
	case reRenameTable.MatchString(a):
		to := ident(reRenameTable.FindStringSubmatch(a)[1])
		return []Finding{finding(RuleRename, m, line, "RENAME TABLE %s TO %s breaks the code still running on the old release (the blue slot during a blue-green switch)", table, to)}
	case reRenameCol.MatchString(a):
		mm := reRenameCol.FindStringSubmatch(a)
		return []Finding{finding(RuleRename, m, line, "RENAME COLUMN %s.%s TO %s breaks the code still running on the old release (the blue slot during a blue-green switch)", table, ident(mm[1]), ident(mm[2]))}
	case reAddColumn.MatchString(a):
		if reNotNull.MatchString(a) && !reDefault.MatchString(a) {
			col := reAddColumn.FindStringSubmatch(a)[1]
			return []Finding{finding(RuleNotNullNoDefault, m, line, "ADD COLUMN %s NOT NULL without a default fails on %s as soon as it has rows", ident(col), table)}
		}
	case reTypeAction.MatchString(a):
		col := reTypeAction.FindStringSubmatch(a)[1]
		return []Finding{finding(RuleAlterColumnType, m, line, "changing the type of %s.%s rewrites the table", table, ident(col))}
	case reDropAction.MatchString(a) && !strings.HasPrefix(strings.ToUpper(a), "DROP CONSTRAINT"):
		col := reDropAction.FindStringSubmatch(a)[1]
		return []Finding{finding(RuleDropColumn, m, line, "DROP COLUMN %s.%s deletes its data; running code that still uses it breaks", table, ident(col))}
	}
	return nil
}

// validCheck: a validated CHECK (col IS NOT NULL) on table.col was seen.
func (l *linter) validCheck(table, col string) bool {
	for _, c := range l.checks {
		if c.table == table && c.column == col && c.valid {
			return true
		}
	}
	return false
}

var (
	reLineComment  = regexp.MustCompile(`--[^\n]*`)
	reBlockComment = regexp.MustCompile(`(?s)/\*.*?\*/`)
	reSpace        = regexp.MustCompile(`\s+`)
)

// normalize drops comments and folds whitespace (string literals with "--"
// in them are rare in DDL; the cost is a missed finding, not a false one).
func normalize(sql string) string {
	sql = reBlockComment.ReplaceAllString(sql, " ")
	sql = reLineComment.ReplaceAllString(sql, " ")
	return strings.TrimSpace(reSpace.ReplaceAllString(sql, " "))
}

// ident folds an identifier as PostgreSQL does: unquoted to lower case.
func ident(s string) string {
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), ";"))
	if strings.HasPrefix(s, `"`) {
		return strings.ReplaceAll(s, `"`, "")
	}
	return strings.ToLower(s)
}

// splitTop splits s on commas outside parentheses and quotes.
func splitTop(s string) []string {
	var out []string
	depth, start, quoted := 0, 0, false
	for i, c := range s {
		switch {
		case c == '"' || c == '\'':
			quoted = !quoted
		case quoted:
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == ',' && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}
