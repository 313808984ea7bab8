package proxy

import "testing"

func TestParseEventLoops(t *testing.T) {
	for in, want := range map[string]int{"": 0, "auto": 0, "off": -1, "3": 3} {
		if got, err := ParseEventLoops(in); err != nil || got != want {
			t.Errorf("ParseEventLoops(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"0", "-2", "on", "two"} {
		if _, err := ParseEventLoops(bad); err == nil {
			t.Errorf("ParseEventLoops(%q) accepted", bad)
		}
	}
}
