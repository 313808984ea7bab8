// Package history renders the audit trail's entries for people, whichever
// provider keeps them.
package history

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Value shows an entry's before or after: weights as "blue 90 / green 10",
// other maps as "k=v" pairs, anything else as JSON.
func Value(v any) string {
	if v == nil {
		return "-"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return strings.Trim(string(b), `"`)
	}
	if w, ok := m["weights"].(map[string]any); ok {
		m = w
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %v", k, m[k]))
	}
	return strings.Join(parts, " / ")
}
