package timeutil

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	ok := map[string]time.Duration{
		"15m": 15 * time.Minute, "7d": 7 * 24 * time.Hour, "1h30m": 90 * time.Minute,
		"1d12h": 36 * time.Hour, "2w": 14 * 24 * time.Hour, "26h": 26 * time.Hour, "0s": 0,
	}
	for in, want := range ok {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "7", "abc", "-5m", "d", "7dd", "1x"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) accepted", in)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	cases := map[time.Duration]string{
		7 * 24 * time.Hour: "7d", 15 * time.Minute: "15m", 36 * time.Hour: "1d12h", 0: "0s", 90 * time.Second: "1m30s",
	}
	for in, want := range cases {
		if got := FormatDuration(in); got != want {
			t.Errorf("FormatDuration(%v) = %q; want %q", in, got, want)
		}
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	if got, _ := ParseTime("30m", now); !got.Equal(now.Add(30 * time.Minute)) {
		t.Errorf("relative: %v", got)
	}
	if got, _ := ParseTime("2026-11-26T01:00:00Z", now); got.Hour() != 1 {
		t.Errorf("absolute: %v", got)
	}
	if _, err := ParseTime("tomorrow", now); err == nil {
		t.Error("accepted tomorrow")
	}
}
