package envspec

import (
	"strings"
	"testing"
	"time"
)

const rotationSchema = `
variables:
  JWT_SECRET:
    type: string
    secret: true
    min_length: 16
    previous: true
    rotation: {max_age: 90d}
  API_KEY:
    type: string
    secret: true
    max_length: 20
    pattern: 'k_[0-9a-f]+'
    generate: {length: 18, charset: hex}
  DATABASE_URL: {type: url, secret: true}
  NODE_ENV: {type: string}
environments:
  production:
    JWT_SECRET: {min_length: 48, not_placeholder: true}
`

func parseRotation(t *testing.T) *Schema {
	t.Helper()
	s, err := Parse([]byte(rotationSchema))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPreviousIsDerivedAndKnown(t *testing.T) {
	s := parseRotation(t)
	p := s.Var("JWT_SECRET_PREVIOUS")
	if p == nil || !p.Secret || p.PreviousOf() != s.Var("JWT_SECRET") || p.Required {
		t.Fatalf("JWT_SECRET_PREVIOUS: %+v", p)
	}
	if s.Var("JWT_SECRET").MaxAge() != 90*24*time.Hour || s.Var("API_KEY").MaxAge() != 0 {
		t.Errorf("max_age: %v", s.Var("JWT_SECRET").MaxAge())
	}
	rep := s.Validate("production", vars("JWT_SECRET", strings.Repeat("a1", 30), "JWT_SECRET_PREVIOUS", "short-old"))
	for _, r := range rep.Variables {
		if r.Name == "JWT_SECRET_PREVIOUS" && r.Status != StatusOK {
			t.Errorf("the previous value is no unknown or invalid variable: %+v", r)
		}
	}
}

func TestRotationSchemaErrors(t *testing.T) {
	for doc, want := range map[string]string{
		"variables: {A: {type: string, previous: true}}":                                     "secret variables only",
		"variables: {A: {type: string, secret: true, rotation: {max_age: soon}}}":            "not a positive duration",
		"variables: {A: {type: string, secret: true, rotation: {maxage: 9d}}}":               "maxage",
		"variables: {A: {type: string, secret: true, generate: {charset: emoji}}}":           "generate.charset",
		"variables: {A: {type: string, secret: true, max_length: 8, generate: {length: 9}}}": "generate.length",
	} {
		if _, err := Parse([]byte(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", doc, err, want)
		}
	}
}

func TestGenerateMeetsRules(t *testing.T) {
	s := parseRotation(t)
	seen := map[string]bool{}
	for range 20 {
		v, err := s.GenerateValue("production", "JWT_SECRET", nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(v) != 48 || len(s.Check("production", "JWT_SECRET", v)) != 0 || seen[v] {
			t.Fatalf("production's min_length 48 not met, invalid or repeated: %d chars", len(v))
		}
		seen[v] = true
	}
	if v, _ := s.GenerateValue("staging", "JWT_SECRET", nil); len(v) != DefaultGenerateLength {
		t.Errorf("staging: %d chars, want %d", len(v), DefaultGenerateLength)
	}
	// API_KEY's pattern needs a prefix hex never gives: a clear refusal.
	if _, err := s.GenerateValue("production", "API_KEY", nil); err == nil || !strings.Contains(err.Error(), "--from-stdin") {
		t.Errorf("impossible pattern: %v", err)
	}
	if _, err := s.GenerateValue("production", "DATABASE_URL", nil); err == nil || !strings.Contains(err.Error(), "type url") {
		t.Errorf("a URL cannot be generated: %v", err)
	}
}

func TestCheckNeverQuotesSecret(t *testing.T) {
	s := parseRotation(t)
	const canary = "changeme-CANARY"
	probs := s.Check("production", "JWT_SECRET", canary)
	if len(probs) == 0 {
		t.Fatal("a 15-character value passes min_length 48")
	}
	if strings.Contains(strings.Join(probs, ";"), canary) {
		t.Errorf("problems quote the value: %v", probs)
	}
	if p := s.Check("production", "JWT_SECRET", " "); len(p) != 1 || !strings.Contains(p[0], "empty") {
		t.Errorf("blank: %v", p)
	}
}
