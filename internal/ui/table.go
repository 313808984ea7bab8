package ui

import (
	"io"
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// Table prints aligned columns for people: a header row, then the rows.
// Cells may carry styles; widths are measured without them.
type Table struct {
	header []string
	rows   [][]string
	theme  *Theme
}

// NewTable starts a table with the given column headers.
func (s *IOStreams) NewTable(header ...string) *Table {
	return &Table{header: header, theme: s.Theme()}
}

// Row adds a row.
func (t *Table) Row(cells ...string) { t.rows = append(t.rows, cells) }

// Len is the number of rows.
func (t *Table) Len() int { return len(t.rows) }

// Render writes the table to w.
func (t *Table) Render(w io.Writer) error {
	widths := make([]int, len(t.header))
	for i, h := range t.header {
		widths[i] = len(h)
	}
	for _, r := range t.rows {
		for i, c := range r {
			if i < len(widths) && ansi.StringWidth(c) > widths[i] {
				widths[i] = ansi.StringWidth(c)
			}
		}
	}
	var b strings.Builder
	hdr := make([]string, len(t.header))
	for i, h := range t.header {
		hdr[i] = t.theme.Bold.Render(strings.ToUpper(h)) + pad(h, widths[i], i == len(t.header)-1)
	}
	b.WriteString(strings.Join(hdr, "  ") + "\n")
	for _, r := range t.rows {
		cells := make([]string, len(r))
		for i, c := range r {
			last := i == len(r)-1
			w := 0
			if i < len(widths) {
				w = widths[i]
			}
			cells[i] = c + pad(c, w, last)
		}
		b.WriteString(strings.TrimRight(strings.Join(cells, "  "), " ") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func pad(s string, width int, last bool) string {
	if last {
		return ""
	}
	n := width - ansi.StringWidth(s)
	if n <= 0 {
		return ""
	}
	return strings.Repeat(" ", n)
}
