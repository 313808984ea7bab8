package ui

import "github.com/charmbracelet/lipgloss"

// Theme holds the styles of deployctl's output.
type Theme struct {
	Bold, Faint, OK, Warn, Fail, Header lipgloss.Style
}

func newTheme(r *lipgloss.Renderer) *Theme {
	return &Theme{
		Bold:   r.NewStyle().Bold(true),
		Faint:  r.NewStyle().Faint(true),
		OK:     r.NewStyle().Foreground(lipgloss.Color("2")),
		Warn:   r.NewStyle().Foreground(lipgloss.Color("3")),
		Fail:   r.NewStyle().Foreground(lipgloss.Color("1")).Bold(true),
		Header: r.NewStyle().Bold(true).Underline(true),
	}
}

// Status colours a status word: ok/pass green, warn yellow, anything that
// failed red.
func (t *Theme) Status(s string) string {
	switch s {
	case "ok", "pass", "passed", "on", "ready", "true":
		return t.OK.Render(s)
	case "warn", "skip", "pending", "unknown", "blank":
		return t.Warn.Render(s)
	case "":
		return s
	}
	return t.Fail.Render(s)
}
