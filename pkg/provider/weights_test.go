package provider

import (
	"strings"
	"testing"
)

func TestWeightsValidate(t *testing.T) {
	cases := []struct {
		w    Weights
		want string // "" for valid
	}{
		{Weights{Blue: 90, Green: 10}, ""},
		{Weights{Green: 100}, ""}, // blue left out counts as 0
		{Weights{Blue: 100, Green: 0}, ""},
		{Weights{Blue: 90, Green: 9}, "sum to 100"},
		{Weights{Blue: 101, Green: -1}, "between 0 and 100"},
		{Weights{Blue: -10, Green: 110}, "between 0 and 100"},
		{Weights{Blue: 50, Green: 50, "red": 0}, `unknown slot "red"`},
		{Weights{}, "sum to 100"},
	}
	for _, c := range cases {
		err := c.w.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%v: %v, want valid", map[Slot]int(c.w), err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%v: %v, want an error with %q", map[Slot]int(c.w), err, c.want)
		}
	}
}

func TestWeightsStringAndSplit(t *testing.T) {
	cases := []struct {
		w    Weights
		want string
	}{
		{Split(Green, 10), "blue 90 / green 10"},
		{Split(Blue, 100), "blue 100 / green 0"},
		{Weights{Green: 100}, "blue 0 / green 100"}, // a missing slot prints as 0
		{Weights{}, "blue 0 / green 0"},
	}
	for _, c := range cases {
		if got := c.w.String(); got != c.want {
			t.Errorf("%v.String() = %q, want %q", map[Slot]int(c.w), got, c.want)
		}
	}
}
