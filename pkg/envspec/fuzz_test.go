package envspec

import (
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/deployctl/deployctl/pkg/provider"
)

var (
	fuzzOnce   sync.Once
	fuzzSchema *Schema
)

// FuzzValidate feeds arbitrary values to every variable of the test schema
// in every environment: the validator must not panic, must give one of the
// five statuses, and must never repeat a secret value in a message.
func FuzzValidate(f *testing.F) {
	fuzzOnce.Do(func() {
		s, err := Load("testdata/schema.yaml")
		if err != nil {
			f.Fatal(err)
		}
		fuzzSchema = s
	})
	f.Add("JWT_SECRET", "your-secret-key")
	f.Add("CORS_ORIGIN", "https://a.example.com,*")
	f.Fuzz(func(t *testing.T, name, value string) {
		for _, env := range []string{"production", "development"} {
			for _, v := range fuzzSchema.Vars {
				checkOne(t, env, v.Name, value)
			}
			checkOne(t, env, name, value)
		}
	})
}

func checkOne(t *testing.T, env, name, value string) {
	t.Helper()
	statuses := map[string]bool{StatusOK: true, StatusMissing: true, StatusInvalid: true, StatusBlank: true, StatusUnknown: true}
	marked := "qz" + value + "zq"
	for _, val := range []string{value, marked} {
		rep := fuzzSchema.Validate(env, map[string]provider.Variable{name: {Name: name, Value: val, Source: "dotenv:.env:1"}})
		if rep.OK != (rep.Problems() == 0) {
			t.Fatalf("ok=%v with %d problems", rep.OK, rep.Problems())
		}
		for _, r := range rep.Variables {
			if !statuses[r.Status] {
				t.Fatalf("%s: status %q", r.Name, r.Status)
			}
			if r.Status != StatusOK && r.Message == "" {
				t.Fatalf("%s: %s without a message", r.Name, r.Status)
			}
			if val == marked && r.Secret && strings.Contains(r.Message, marked) {
				t.Fatalf("%s: secret value in message %q", r.Name, r.Message)
			}
		}
	}
}

// FuzzParse: no schema document makes the parser panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte("variables:\n  A: {type: int, min: 1}\nenvironments: {production: {A: {max: 3}}}\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		s, err := Parse(doc)
		if err == nil {
			s.Validate("production", map[string]provider.Variable{"A": {Name: "A", Value: "2"}})
		}
	})
}

func TestVarKeysMatchStruct(t *testing.T) {
	tags := map[string]bool{}
	for _, typ := range []reflect.Type{reflect.TypeOf(Var{}), reflect.TypeOf(Rules{})} {
		for i := 0; i < typ.NumField(); i++ {
			name, _, _ := strings.Cut(typ.Field(i).Tag.Get("yaml"), ",")
			if name != "" && name != "-" {
				tags[name] = true
			}
		}
	}
	if !reflect.DeepEqual(tags, varKeys) {
		t.Errorf("varKeys %v, struct fields %v", varKeys, tags)
	}
}
