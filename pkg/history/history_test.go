package history

import "testing"

func TestValue(t *testing.T) {
	cases := []struct {
		in   any
		want string
	}{
		{nil, "-"},
		{map[string]int{"green": 10, "blue": 90}, "blue 90 / green 10"},
		{map[string]any{"weights": map[string]int{"blue": 100, "green": 0}, "active": "blue"}, "blue 100 / green 0"},
		{"on", "on"},
	}
	for _, c := range cases {
		if got := Value(c.in); got != c.want {
			t.Errorf("Value(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}
