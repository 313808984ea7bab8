package analysis

import "testing"

func TestCombine(t *testing.T) {
	m := func(vs ...Verdict) []Measurement {
		var out []Measurement
		for _, v := range vs {
			out = append(out, Measurement{Verdict: v})
		}
		return out
	}
	cases := []struct {
		in   []Measurement
		want Verdict
	}{
		{nil, Inconclusive},
		{m(Pass, Pass), Pass},
		{m(Pass, Inconclusive), Inconclusive},
		{m(Inconclusive, Fail), Fail},
		{m(Pass, "bogus"), Inconclusive},
	}
	for _, c := range cases {
		if got := Combine(c.in); got != c.want {
			t.Errorf("Combine(%v) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestMeasurementString(t *testing.T) {
	cases := []struct {
		m    Measurement
		want string
	}{
		{Measurement{Name: "error_rate", Query: "q", Value: 0.0123, Threshold: 0.01, Unit: "ratio", Verdict: Fail},
			"error_rate 1.23% > threshold 1%: fail; query: q"},
		{Measurement{Name: "p95", Query: "q", Value: 0.2, Threshold: 0.5, Unit: "seconds", Verdict: Pass},
			"p95 200ms <= threshold 500ms: pass; query: q"},
		{Measurement{Name: "p95", Query: "q", Threshold: 0.5, Unit: "seconds", Verdict: Inconclusive, Error: "no data"},
			"p95 no value (threshold 500ms): inconclusive, no data; query: q"},
	}
	for _, c := range cases {
		if got := c.m.String(); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
}
