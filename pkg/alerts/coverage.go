package alerts

import (
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// CoveredBy says whether a loaded alerting rule covers the row: it has the
// row's name, or its query reads every metric of the row's query and
// compares with the threshold (value > t, or for a fraction the remainder
// below 1-t; percentages count as their fraction).
//
// A rule with the row's name whose query compares with other numbers only
// does not cover it: it was rendered for another threshold (Stale).
func (e Expectation) CoveredBy(name, query string) bool {
	if name == e.Alert {
		return !e.Stale(name, query)
	}
	if len(e.Metrics) == 0 {
		return false
	}
	have := map[string]bool{}
	for _, m := range Metrics(query) {
		have[m] = true
	}
	for _, m := range e.Metrics {
		if !have[m] {
			return false
		}
	}
	return e.comparesWithThreshold(query)
}

// Stale says whether a rule with the row's name compares with numbers of
// which none is the row's threshold.
func (e Expectation) Stale(name, query string) bool {
	return name == e.Alert && comparison.MatchString(stripStrings(query)) && !e.comparesWithThreshold(query)
}

var comparison = regexp.MustCompile(`([<>])=?\s*(?:bool\s+)?([0-9][0-9.eE+-]*)`)

func (e Expectation) comparesWithThreshold(query string) bool {
	for _, m := range comparison.FindAllStringSubmatch(stripStrings(query), -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			continue
		}
		for _, want := range e.accepted(m[1]) {
			if near(v, want) {
				return true
			}
		}
	}
	return false
}

// accepted are the numbers a comparison op may hold for the threshold.
func (e Expectation) accepted(op string) []float64 {
	t := e.Threshold
	switch {
	case op == ">" && e.Unit == Fraction:
		return []float64{t, t * 100}
	case op == ">":
		return []float64{t, t * 1000} // seconds, or milliseconds
	case e.Unit == Fraction: // what is left below 1-t
		return []float64{1 - t, 100 - t*100}
	}
	return nil
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

var (
	stringLit = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	matchers  = regexp.MustCompile(`\{[^}]*\}`)
	ranges    = regexp.MustCompile(`\[[^\]]*\]`)
	grouping  = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	ident     = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	keywords  = map[string]bool{"bool": true, "and": true, "or": true, "unless": true, "offset": true,
		"inf": true, "nan": true, "by": true, "without": true, "on": true, "ignoring": true,
		"group_left": true, "group_right": true, "atan2": true, "start": true, "end": true}
)

func stripStrings(q string) string { return stringLit.ReplaceAllString(q, `""`) }

// Metrics are the metric names a PromQL query reads, sorted: the
// identifiers that are not functions, keywords, label names or durations.
func Metrics(query string) []string {
	q := stripStrings(query)
	q = matchers.ReplaceAllString(q, " ")
	q = ranges.ReplaceAllString(q, " ")
	q = grouping.ReplaceAllString(q, " ")
	seen := map[string]bool{}
	var out []string
	for _, loc := range ident.FindAllStringIndex(q, -1) {
		word := q[loc[0]:loc[1]]
		if loc[0] > 0 && isNumberPart(q[loc[0]-1]) {
			continue // 1e3, 5m
		}
		rest := strings.TrimLeft(q[loc[1]:], " \t\n")
		if strings.HasPrefix(rest, "(") || keywords[strings.ToLower(word)] || seen[word] {
			continue
		}
		seen[word] = true
		out = append(out, word)
	}
	sort.Strings(out)
	return out
}

func isNumberPart(c byte) bool { return c >= '0' && c <= '9' || c == '.' }
