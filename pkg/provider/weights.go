package provider

import "fmt"

// Validate checks that w names only the two slots, each with 0 to 100
// percent, summing to 100. A slot w leaves out has 0.
func (w Weights) Validate() error {
	for s := range w {
		if !s.Valid() {
			return fmt.Errorf("unknown slot %q in weights: use blue and green", s)
		}
	}
	b, g := w[Blue], w[Green]
	if b < 0 || g < 0 || b+g != 100 {
		return fmt.Errorf("weights blue %d, green %d must be between 0 and 100 and sum to 100", b, g)
	}
	return nil
}

// String is w for people: "blue 90 / green 10".
func (w Weights) String() string {
	return fmt.Sprintf("blue %d / green %d", w[Blue], w[Green])
}

// Split gives s n percent and the other slot the rest.
func Split(s Slot, n int) Weights { return Weights{s: n, s.Other(): 100 - n} }
