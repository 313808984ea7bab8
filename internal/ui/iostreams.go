// Package ui is everything deployctl shows: the IO streams, TTY detection,
// colour (never on a pipe, never with NO_COLOR), tables, JSON, progress and
// prompts.
package ui

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/mattn/go-isatty"
	"github.com/muesli/termenv"
)

// IOStreams are the process's streams and what is known about them.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	StdinTTY  bool
	StdoutTTY bool
	StderrTTY bool
	NoColor   bool

	theme *Theme
}

// System returns the streams of the process.
func System() *IOStreams {
	_, noColor := os.LookupEnv("NO_COLOR")
	return &IOStreams{
		In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr,
		StdinTTY:  isTerminal(os.Stdin),
		StdoutTTY: isTerminal(os.Stdout),
		StderrTTY: isTerminal(os.Stderr),
		NoColor:   noColor || os.Getenv("TERM") == "dumb",
	}
}

func isTerminal(f *os.File) bool {
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}

// Test returns streams on buffers (no TTY) and the buffers.
func Test() (ios *IOStreams, in, out, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}

// ColorEnabled reports whether stdout gets colour.
func (s *IOStreams) ColorEnabled() bool { return s.StdoutTTY && !s.NoColor }

// Theme returns the styles, bound to stdout so a pipe gets no ANSI codes.
func (s *IOStreams) Theme() *Theme {
	if s.theme == nil {
		r := lipgloss.NewRenderer(s.Out)
		if s.ColorEnabled() {
			r.SetColorProfile(termenv.ANSI256)
		} else {
			r.SetColorProfile(termenv.Ascii)
		}
		s.theme = newTheme(r)
	}
	return s.theme
}

// Printf writes a note for people to stderr.
func (s *IOStreams) Printf(format string, a ...any) { fmt.Fprintf(s.ErrOut, format, a...) }

// Warnf writes a warning to stderr.
func (s *IOStreams) Warnf(format string, a ...any) {
	fmt.Fprintf(s.ErrOut, "warning: "+format+"\n", a...)
}

// JSON writes v as one indented JSON document to stdout.
func (s *IOStreams) JSON(v any) error {
	enc := json.NewEncoder(s.Out)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// ErrNoTerminal is returned when a confirmation is needed but nobody can
// answer it. The CLI maps it to exit code 2.
var ErrNoTerminal = errors.New("this is a destructive action and stdin is not a terminal: pass --yes to confirm")

// ErrDeclined is returned when the operator answers no.
var ErrDeclined = errors.New("cancelled: nothing was changed")

// Confirm asks a yes/no question on stderr; yes skips it. Without a terminal
// it refuses with ErrNoTerminal.
func (s *IOStreams) Confirm(question string, yes bool) error {
	if yes {
		return nil
	}
	if !s.StdinTTY {
		return ErrNoTerminal
	}
	fmt.Fprintf(s.ErrOut, "%s [y/N]: ", question)
	line, _ := bufio.NewReader(s.In).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return ErrDeclined
}

// ConfirmTyped asks the operator to type want (an environment's name) before
// something irreversible; yes skips it.
func (s *IOStreams) ConfirmTyped(question, want string, yes bool) error {
	if yes {
		return nil
	}
	if !s.StdinTTY {
		return ErrNoTerminal
	}
	fmt.Fprintf(s.ErrOut, "%s\nType %q to confirm: ", question, want)
	line, _ := bufio.NewReader(s.In).ReadString('\n')
	if strings.TrimSpace(line) != want {
		return ErrDeclined
	}
	return nil
}
