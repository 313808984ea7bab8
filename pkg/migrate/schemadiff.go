package migrate

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
)

// bookkeepingTables are left out of the schema comparison of a rehearsal:
// goose's version table and deployctl's own, which the rehearsal itself may
// create on the scratch copy. pg_dump patterns: their sequences go too.
var bookkeepingTables = []string{GooseTable + "*", "deployctl_migration*"}

// SchemaDiffError is a migration whose down section ran without an error
// but did not put the schema back as it was before its up section.
type SchemaDiffError struct {
	Version int64
	File    string
	Diff    string // unified, of the normalised pg_dump --schema-only
}

func (e *SchemaDiffError) Error() string {
	return fmt.Sprintf("%s: its down section does not undo its up: the schema after up and down differs from the schema before up "+
		"(pg_dump --schema-only of the scratch database); make the down section undo every change of the up section, then rehearse again:\n%s",
		e.File, strings.TrimRight(e.Diff, "\n"))
}

// dumpSchema is the normalised schema of the database at url, without the
// bookkeeping tables.
func (r *Rehearser) dumpSchema(ctx context.Context, url string) ([]string, error) {
	connURL, env := childConn(url)
	args := []string{"--schema-only", "--no-owner", "--no-acl", "--no-comments", "--dbname=" + connURL}
	for _, t := range bookkeepingTables {
		args = append(args, "--exclude-table="+t)
	}
	cmd := exec.CommandContext(ctx, or(r.PgDump, findTool("pg_dump")), args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("dump the schema of the scratch database: pg_dump: %v: %s", err, scrubOut(stderr.String(), url))
	}
	return normalizeSchema(string(out)), nil
}

// normalizeSchema turns pg_dump --schema-only output into a stable list of
// lines: comments, SET and set_config lines, psql meta-commands (\restrict
// carries a random key) and blank lines go; the columns of each CREATE
// TABLE are sorted (a down section that adds back a dropped column puts it
// last), and the statements are sorted.
func normalizeSchema(dump string) []string {
	var stmts []string
	var cur []string
	for _, line := range strings.Split(dump, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "", strings.HasPrefix(trimmed, "--"), strings.HasPrefix(trimmed, `\`),
			strings.HasPrefix(line, "SET "), strings.HasPrefix(line, "SELECT pg_catalog.set_config("):
			continue
		}
		cur = append(cur, strings.TrimRight(line, " \t"))
		if strings.HasSuffix(trimmed, ";") {
			stmts = append(stmts, strings.Join(sortColumns(cur), "\n"))
			cur = nil
		}
	}
	if len(cur) > 0 {
		stmts = append(stmts, strings.Join(cur, "\n"))
	}
	sort.Strings(stmts)
	var out []string
	for _, s := range stmts {
		out = append(out, strings.Split(s, "\n")...)
	}
	return out
}

// sortColumns sorts the column lines of a multi-line CREATE TABLE, each
// without its trailing comma.
func sortColumns(stmt []string) []string {
	if len(stmt) < 3 || !strings.HasPrefix(stmt[0], "CREATE ") || !strings.Contains(stmt[0], "TABLE ") || !strings.HasSuffix(stmt[0], "(") {
		return stmt
	}
	end := len(stmt) - 1
	if !strings.HasPrefix(strings.TrimSpace(stmt[end]), ")") {
		return stmt
	}
	cols := make([]string, 0, end-1)
	for _, c := range stmt[1:end] {
		cols = append(cols, strings.TrimSuffix(c, ","))
	}
	sort.Strings(cols)
	out := append([]string{stmt[0]}, cols...)
	return append(out, stmt[end])
}

// maxDiffLines bounds the diff shown in a rehearsal's error.
const maxDiffLines = 60

// unifiedDiff is a unified diff of a and b with 2 lines of context, "" when
// they are equal.
func unifiedDiff(nameA, nameB string, a, b []string) string {
	ops := diffOps(a, b)
	const ctx = 2
	var hunks [][2]int // [start, end) of ops
	for i, op := range ops {
		if op.kind == ' ' {
			continue
		}
		start, end := max(0, i-ctx), min(len(ops), i+ctx+1)
		if n := len(hunks); n > 0 && hunks[n-1][1] >= start {
			hunks[n-1][1] = end
		} else {
			hunks = append(hunks, [2]int{start, end})
		}
	}
	if len(hunks) == 0 {
		return ""
	}
	lines := []string{"--- " + nameA, "+++ " + nameB}
	for _, h := range hunks {
		as, bs, an, bn := -1, -1, 0, 0
		var body []string
		for _, op := range ops[h[0]:h[1]] {
			if as < 0 {
				as, bs = op.ai, op.bi
			}
			if op.kind != '+' {
				an++
			}
			if op.kind != '-' {
				bn++
			}
			body = append(body, string(op.kind)+op.text)
		}
		lines = append(lines, fmt.Sprintf("@@ -%d,%d +%d,%d @@", as+1, an, bs+1, bn))
		lines = append(lines, body...)
	}
	if len(lines) > maxDiffLines {
		more := len(lines) - maxDiffLines
		lines = append(lines[:maxDiffLines], fmt.Sprintf("… (%d more lines)", more))
	}
	return strings.Join(lines, "\n") + "\n"
}

type diffOp struct {
	kind   byte // ' ', '-', '+'
	text   string
	ai, bi int // positions in a and b where the op starts
}

// diffOps is the edit script of a longest common subsequence of a and b.
// Schemas are small; past a few million cells it falls back to "all of a
// removed, all of b added" around the common prefix and suffix.
func diffOps(a, b []string) []diffOp {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	var ops []diffOp
	for i := 0; i < pre; i++ {
		ops = append(ops, diffOp{' ', a[i], i, i})
	}
	ma, mb := a[pre:len(a)-suf], b[pre:len(b)-suf]
	if len(ma)*len(mb) > 4_000_000 {
		for i, s := range ma {
			ops = append(ops, diffOp{'-', s, pre + i, pre})
		}
		for j, s := range mb {
			ops = append(ops, diffOp{'+', s, pre + len(ma), pre + j})
		}
	} else {
		ops = append(ops, lcsOps(ma, mb, pre)...)
	}
	for k := 0; k < suf; k++ {
		i, j := len(a)-suf+k, len(b)-suf+k
		ops = append(ops, diffOp{' ', a[i], i, j})
	}
	return ops
}

func lcsOps(a, b []string, off int) []diffOp {
	n, m := len(a), len(b)
	l := make([][]int, n+1)
	for i := range l {
		l[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				l[i][j] = l[i+1][j+1] + 1
			} else {
				l[i][j] = max(l[i+1][j], l[i][j+1])
			}
		}
	}
	var ops []diffOp
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			ops = append(ops, diffOp{' ', a[i], off + i, off + j})
			i, j = i+1, j+1
		case i < n && (j == m || l[i+1][j] >= l[i][j+1]):
			ops = append(ops, diffOp{'-', a[i], off + i, off + j})
			i++
		default:
			ops = append(ops, diffOp{'+', b[j], off + i, off + j})
			j++
		}
	}
	return ops
}
