package rollout

import (
	"fmt"
	"strconv"
	"strings"
)

// weightValue is --weight: a whole percentage 0..100, refused while parsing.
type weightValue struct {
	n   *int
	set bool
}

func (w *weightValue) String() string {
	if w.n == nil || !w.set {
		return ""
	}
	return strconv.Itoa(*w.n)
}

func (w *weightValue) Set(s string) error {
	n, err := parseWeight(s)
	if err != nil {
		return err
	}
	*w.n, w.set = n, true
	return nil
}

func (w *weightValue) Type() string { return "percent" }

func parseWeight(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(s), "%"))
	if err != nil || n < 0 || n > 100 {
		return 0, fmt.Errorf("%q is not a weight: give a whole percentage from 0 to 100", s)
	}
	return n, nil
}

// stepsValue is --steps: increasing weights such as 10,50,100.
type stepsValue struct{ steps *[]int }

func (v *stepsValue) String() string {
	if v.steps == nil {
		return ""
	}
	parts := make([]string, len(*v.steps))
	for i, n := range *v.steps {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ",")
}

func (v *stepsValue) Set(s string) error {
	var out []int
	for _, part := range strings.Split(s, ",") {
		n, err := parseWeight(part)
		if err != nil {
			return fmt.Errorf("in %q: %w", s, err)
		}
		if len(out) > 0 && n <= out[len(out)-1] {
			return fmt.Errorf("steps %q must increase, such as 10,50,100", s)
		}
		out = append(out, n)
	}
	*v.steps = out
	return nil
}

func (v *stepsValue) Type() string { return "weights" }
