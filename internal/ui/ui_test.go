package ui

import (
	"strings"
	"testing"
	"time"
)

func TestTableAlignsAndHasNoANSIOffTTY(t *testing.T) {
	ios, _, out, _ := Test()
	tb := ios.NewTable("name", "status", "message")
	tb.Row("PORT", ios.Theme().Status("ok"), "")
	tb.Row("JWT_SECRET", ios.Theme().Status("invalid"), "too short")
	if err := tb.Render(out); err != nil {
		t.Fatal(err)
	}
	want := "NAME        STATUS   MESSAGE\nPORT        ok\nJWT_SECRET  invalid  too short\n"
	if out.String() != want {
		t.Errorf("got:\n%q\nwant:\n%q", out.String(), want)
	}
}

func TestColourOnlyOnTTYWithoutNoColor(t *testing.T) {
	ios, _, _, _ := Test()
	ios.StdoutTTY = true
	if !strings.Contains(ios.Theme().Status("failed"), "\x1b[") {
		t.Error("no colour on a TTY")
	}
	ios2, _, _, _ := Test()
	ios2.StdoutTTY, ios2.NoColor = true, true
	if strings.Contains(ios2.Theme().Status("failed"), "\x1b[") {
		t.Error("colour despite NO_COLOR")
	}
}

func TestConfirmRefusesWithoutTerminal(t *testing.T) {
	ios, in, _, errOut := Test()
	in.WriteString("y\n")
	if err := ios.Confirm("delete?", false); err != ErrNoTerminal {
		t.Errorf("got %v", err)
	}
	if err := ios.Confirm("delete?", true); err != nil {
		t.Errorf("--yes: %v", err)
	}
	ios.StdinTTY = true
	if err := ios.Confirm("delete?", false); err != nil {
		t.Errorf("answered y: %v", err)
	}
	if !strings.Contains(errOut.String(), "delete? [y/N]") {
		t.Errorf("prompt %q", errOut)
	}
	in.WriteString("production\n")
	if err := ios.ConfirmTyped("restore over production", "staging", false); err != ErrDeclined {
		t.Errorf("typed wrong name: %v", err)
	}
}

func TestJSONAndBytes(t *testing.T) {
	ios, _, out, errOut := Test()
	_ = ios.JSON(map[string]any{"ok": true, "url": "a<b"})
	if out.String() != "{\n  \"ok\": true,\n  \"url\": \"a<b\"\n}\n" {
		t.Errorf("%q", out)
	}
	if HumanBytes(1536) != "1.5 KiB" || HumanBytes(12) != "12 B" {
		t.Error(HumanBytes(1536), HumanBytes(12))
	}
	p := ios.NewProgress("dump", 0)
	_, _ = p.Write(make([]byte, 10))
	p.Done()
	if errOut.Len() != 0 {
		t.Error("progress must not print when stderr is not a terminal")
	}
}

// A step not counted in bytes shows its label and the time it has taken,
// so that pg_restore's index build is seen to go on (it sat at 100%); a
// second Done is harmless.
func TestProgressOfAStep(t *testing.T) {
	ios, _, _, errOut := Test()
	ios.StderrTTY = true
	p := ios.NewProgress("verify 20261203T0100Z: pg_restore is finishing", -1)
	time.Sleep(250 * time.Millisecond)
	p.Done()
	p.Done()
	if out := errOut.String(); !strings.Contains(out, "pg_restore is finishing…") || strings.Contains(out, "B/s") || strings.Count(out, "\n") != 1 {
		t.Fatalf("%q", out)
	}
}
