package envspec

import (
	"strings"
	"testing"

	"github.com/deployctl/deployctl/pkg/provider"
)

func loadTest(t *testing.T) *Schema {
	t.Helper()
	s, err := Load("testdata/schema.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func vars(kv ...string) map[string]provider.Variable {
	m := map[string]provider.Variable{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = provider.Variable{Name: kv[i], Value: kv[i+1], Source: "dotenv:.env:" + kv[i]}
	}
	return m
}

func byName(rep *Report) map[string]Result {
	m := map[string]Result{}
	for _, r := range rep.Variables {
		m[r.Name] = r
	}
	return m
}

const goodSecret = "k3J9-vQ2xP7!mZ8rT1wY4uB6nC0eL5hA" // 32 characters, not a placeholder

func good() map[string]provider.Variable {
	return vars("NODE_ENV", "production", "DATABASE_URL", "postgres://app:pw@db.internal:5432/app",
		"JWT_SECRET", goodSecret, "EMAIL_HOST", "smtp.example.com", "EMAIL_PASSWORD", "hunter2-real",
		"CORS_ORIGIN", "https://example.com, https://admin.example.com:8443")
}

func TestValidateGood(t *testing.T) {
	s := loadTest(t)
	rep := s.Validate("production", good())
	if !rep.OK {
		t.Fatalf("want ok: %+v", rep.Variables)
	}
	r := byName(rep)
	if r["PORT"].Source != SourceDefault || r["PORT"].Status != StatusOK {
		t.Errorf("PORT default: %+v", r["PORT"])
	}
	if r["WORKERS"].Message != "not set (optional)" {
		t.Errorf("optional: %+v", r["WORKERS"])
	}
	if !r["JWT_SECRET"].Secret || r["NODE_ENV"].Secret {
		t.Errorf("secret flags: %+v %+v", r["JWT_SECRET"], r["NODE_ENV"])
	}
	if rep.Variables[0].Name != "NODE_ENV" || rep.Variables[len(s.Vars)-1].Name != "LOG_LEVEL" {
		t.Errorf("results must follow the schema's order: %+v", rep.Variables)
	}
}

func TestValidateReportsEveryProblemAtOnce(t *testing.T) {
	s := loadTest(t)
	in := vars("NODE_ENV", "staging", "JWT_SECRET", "   ", "PORT", "80a", "EMAIL_HOST", "localhost",
		"CORS_ORIGIN", "*", "JWT_SECRT", "x", "NPM_CONFIG_CACHE", "/tmp", "WORKERS", "0")
	in["HOME"] = provider.Variable{Name: "HOME", Value: "/root", Source: "process"}
	rep := s.Validate("production", in)
	if rep.OK {
		t.Fatal("want problems")
	}
	want := map[string]string{
		"NODE_ENV": StatusInvalid, "DATABASE_URL": StatusMissing, "JWT_SECRET": StatusBlank,
		"PORT": StatusInvalid, "EMAIL_HOST": StatusInvalid, "EMAIL_PASSWORD": StatusMissing,
		"CORS_ORIGIN": StatusInvalid, "JWT_SECRT": StatusUnknown, "WORKERS": StatusInvalid,
		"JWT_EXPIRATION": StatusOK,
	}
	got := byName(rep)
	for name, st := range want {
		if got[name].Status != st {
			t.Errorf("%s: status %q, want %q (%s)", name, got[name].Status, st, got[name].Message)
		}
	}
	if rep.Problems() != 9 {
		t.Errorf("problems: %d", rep.Problems())
	}
	if _, ok := got["HOME"]; ok {
		t.Error("process variables outside the schema must not be reported")
	}
	if _, ok := got["NPM_CONFIG_CACHE"]; ok {
		t.Error("ignore_unknown pattern not honoured")
	}
	if !strings.Contains(got["JWT_SECRT"].Message, "did you mean JWT_SECRET") || !got["JWT_SECRT"].Secret {
		t.Errorf("unknown: %+v", got["JWT_SECRT"])
	}
	if got["JWT_SECRT"].Source != "dotenv:.env:JWT_SECRT" {
		t.Errorf("source: %+v", got["JWT_SECRT"])
	}
}

func TestEnvironmentRulesApplyOnlyThere(t *testing.T) {
	s := loadTest(t)
	in := vars("NODE_ENV", "development", "DATABASE_URL", "postgres://postgres:postgres@localhost:5432/app",
		"JWT_SECRET", "your-secret-key-dev", "CORS_ORIGIN", "*")
	if rep := s.Validate("development", in); !rep.OK {
		t.Errorf("development must accept a local setup: %+v", rep.Variables)
	}
	rep := s.Validate("production", in)
	got := byName(rep)
	for _, name := range []string{"DATABASE_URL", "JWT_SECRET", "CORS_ORIGIN", "NODE_ENV"} {
		if got[name].Status != StatusInvalid {
			t.Errorf("%s in production: %+v", name, got[name])
		}
	}
	if msg := got["JWT_SECRET"].Message; !strings.Contains(msg, "at least 32") {
		t.Errorf("JWT_SECRET: %s", msg)
	}
	if got["EMAIL_HOST"].Status != StatusMissing {
		t.Errorf("required override: %+v", got["EMAIL_HOST"])
	}
}

func TestBlankOptionalUsesDefault(t *testing.T) {
	s := loadTest(t)
	in := good()
	in["PORT"] = provider.Variable{Name: "PORT", Value: "", Source: ".env"}
	in["WORKERS"] = provider.Variable{Name: "WORKERS", Value: "", Source: ".env"}
	rep := s.Validate("production", in)
	got := byName(rep)
	if !rep.OK || got["PORT"].Source != SourceDefault || !strings.Contains(got["PORT"].Message, "default") {
		t.Errorf("blank optional: %+v", rep.Variables)
	}
}

func TestSecretValuesNeverInMessages(t *testing.T) {
	s := loadTest(t)
	const canary = "CANARY-7f3a9"
	in := vars("NODE_ENV", "production", "DATABASE_URL", "mysql://u:"+canary+"@localhost/x",
		"JWT_SECRET", canary, "EMAIL_PASSWORD", canary, "CORS_ORIGIN", "https://x.example", "JWT_SECRETS", canary)
	rep := s.Validate("production", in)
	for _, r := range rep.Variables {
		if strings.Contains(r.Message, canary) || strings.Contains(r.Source, canary) {
			t.Errorf("%s leaks the secret: %s", r.Name, r.Message)
		}
	}
	if got := byName(rep)["DATABASE_URL"]; got.Status != StatusInvalid || !strings.Contains(got.Message, `scheme "mysql"`) {
		t.Errorf("DATABASE_URL: %+v", got)
	}
}

func TestRedactAndDisplay(t *testing.T) {
	r := Redact(strings.Repeat("a", 44))
	if !strings.HasPrefix(r, "set (44 chars, sha256:") || !strings.HasSuffix(r, "…)") || len(Hash("x")) != 64 {
		t.Errorf("redact: %s", r)
	}
	if Redact("") != "empty" {
		t.Error(Redact(""))
	}
	secretURL := &Var{Name: "DATABASE_URL", Type: URL, Secret: true}
	d := Display(secretURL, "postgres://app:hunter2@db:5432/app?sslmode=require&password=x")
	if strings.Contains(d, "hunter2") || !strings.HasPrefix(d, "postgres://app@db:5432/app set (") {
		t.Errorf("secret url: %s", d)
	}
	plainURL := &Var{Name: "API", Type: URL}
	if d := Display(plainURL, "https://u:pw@api.example.com/x"); strings.Contains(d, "pw") {
		t.Errorf("password in a plain url: %s", d)
	}
	if d := Display(plainURL, "https://api.example.com/x?a=1"); d != "https://api.example.com/x?a=1" {
		t.Errorf("plain url changed: %s", d)
	}
	if d := Display(&Var{Name: "S", Secret: true}, "hunter2"); strings.Contains(d, "hunter2") {
		t.Error(d)
	}
	if d := Display(nil, "hunter2"); strings.Contains(d, "hunter2") {
		t.Errorf("unknown variables are secret: %s", d)
	}
}

func TestIsPlaceholder(t *testing.T) {
	for _, v := range []string{"your-secret-key", "YOUR_SECRET_KEY", "changeme", "Change Me", "secret", "password",
		"your-super-secret-jwt-key-here", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "insert-secret-here", "example-jwt-secret"} {
		if !IsPlaceholder(v) {
			t.Errorf("%q must be a placeholder", v)
		}
	}
	for _, v := range []string{goodSecret, "hunter2-real", "Zm9vYmFyYmF6cXV4cXV1eA=="} {
		if IsPlaceholder(v) {
			t.Errorf("%q is not a placeholder", v)
		}
	}
}

func TestEnvironmentRuleReplacesTheSameKind(t *testing.T) {
	s := loadTest(t)
	in := good()
	in["JWT_SECRET"] = provider.Variable{Name: "JWT_SECRET", Value: "your-secret-key", Source: ".env"}
	in["NODE_ENV"] = provider.Variable{Name: "NODE_ENV", Value: "prod", Source: ".env"}
	got := byName(s.Validate("production", in))
	msg := got["JWT_SECRET"].Message
	if strings.Contains(msg, "at least 16") || !strings.Contains(msg, "at least 32") || !strings.Contains(msg, "placeholder") {
		t.Errorf("JWT_SECRET: %s", msg)
	}
	if msg := got["NODE_ENV"].Message; strings.Count(msg, "is not one of") != 1 || !strings.HasSuffix(msg, "one of: production") {
		t.Errorf("NODE_ENV: %s", msg)
	}
}
