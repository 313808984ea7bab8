// Package timeutil parses the durations and times operators type: Go
// durations extended with days and weeks ("7d", "2w", "1d12h"), and times
// given either as RFC 3339 or relative to now ("30m").
package timeutil

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseDuration parses a Go duration that may also use "d" (24h) and "w"
// (7d) units, e.g. "15m", "7d", "1h30m", "1w2d". Negative durations are
// refused: nothing in deployctl lasts less than nothing.
func ParseDuration(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if strings.HasPrefix(in, "-") {
		return 0, fmt.Errorf("invalid duration %q: must not be negative", s)
	}
	var total time.Duration
	rest := in
	for _, unit := range []struct {
		suffix byte
		d      time.Duration
	}{{'w', 7 * 24 * time.Hour}, {'d', 24 * time.Hour}} {
		i := strings.IndexByte(rest, unit.suffix)
		if i < 0 {
			continue
		}
		n, err := strconv.ParseFloat(rest[:i], 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("invalid duration %q: use forms like 15m, 1h30m, 7d", s)
		}
		total += time.Duration(n * float64(unit.d))
		rest = rest[i+1:]
	}
	if rest != "" {
		d, err := time.ParseDuration(rest)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q: use forms like 15m, 1h30m, 7d", s)
		}
		total += d
	}
	return total, nil
}

// FormatDuration prints d compactly with days: "7d", "1d2h", "15m", "0s".
func FormatDuration(d time.Duration) string {
	if d < 0 {
		return "-" + FormatDuration(-d)
	}
	d = d.Round(time.Second)
	var b strings.Builder
	for _, u := range []struct {
		name string
		d    time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}} {
		if n := d / u.d; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			d -= n * u.d
		}
	}
	if b.Len() == 0 {
		return "0s"
	}
	return b.String()
}

// ParseTime parses an absolute RFC 3339 time, or a duration from now.
func ParseTime(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := ParseDuration(s); err == nil {
		return now.Add(d), nil
	}
	return time.Time{}, fmt.Errorf("invalid time %q: give RFC 3339 (2026-11-25T22:00:00Z) or a duration from now (30m, 2h)", s)
}

// Duration is a pflag.Value and YAML-friendly duration accepting days.
type Duration time.Duration

func (d *Duration) Set(s string) error {
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

func (d *Duration) String() string { return FormatDuration(time.Duration(*d)) }
func (d *Duration) Type() string   { return "duration" }
