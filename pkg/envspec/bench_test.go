package envspec

import (
	"testing"

	"github.com/deployctl/deployctl/pkg/provider"
)

// BenchmarkValidate: one production check of the reference variables.
func BenchmarkValidate(b *testing.B) {
	s, err := Load("testdata/schema.yaml")
	if err != nil {
		b.Fatal(err)
	}
	in := good()
	in["JWT_SECRT"] = provider.Variable{Name: "JWT_SECRT", Value: "x", Source: ".env"}
	for b.Loop() {
		s.Validate("production", in)
	}
}
