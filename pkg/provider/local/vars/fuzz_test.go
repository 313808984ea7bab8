package vars

import (
	"errors"
	"strings"
	"testing"
)

// quote writes v as a double-quoted dotenv value.
func quote(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`, "$", `\$`)
	return `"` + r.Replace(v) + `"`
}

// FuzzParse: any document either parses or fails with a file:line
// SyntaxError; whatever parses survives being written back double-quoted
// and parsed again.
func FuzzParse(f *testing.F) {
	f.Add("A=1\nexport B='x'\nC=\"y\\n\"\n# c\n")
	f.Fuzz(func(t *testing.T, doc string) {
		es, err := Parse("f.env", strings.NewReader(doc))
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Line < 1 || !strings.HasPrefix(err.Error(), "f.env:") {
				t.Fatalf("not a file:line error: %v", err)
			}
			return
		}
		var b strings.Builder
		for _, e := range es {
			if e.Line < 1 || !validName(e.Name) {
				t.Fatalf("bad entry %+v", e)
			}
			b.WriteString(e.Name + "=" + quote(e.Value) + "\n")
		}
		again, err := Parse("f.env", strings.NewReader(b.String()))
		if err != nil || len(again) != len(es) {
			t.Fatalf("round trip: %v (%d vs %d)", err, len(again), len(es))
		}
		for i := range es {
			if again[i].Value != es[i].Value {
				t.Fatalf("round trip of %s: %q became %q", es[i].Name, es[i].Value, again[i].Value)
			}
		}
	})
}
