package vars

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deployctl/deployctl/pkg/provider"
)

func decodeMap(m map[string]any) provider.Decode {
	return func(target any) error {
		if s, ok := target.(*DotenvSettings); ok {
			s.Path, _ = m["path"].(string)
			s.Optional, _ = m["optional"].(bool)
		}
		return nil
	}
}

func TestDotenvSourceRelativeToBaseDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ".env.staging"), []byte("A=1\n\nB=two\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := NewDotenv(t.Context(), provider.Env{BaseDir: dir}, decodeMap(map[string]any{"path": ".env.staging"}))
	if err != nil {
		t.Fatal(err)
	}
	vs, err := src.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 || vs[1].Name != "B" || vs[1].Value != "two" || vs[1].Source != "dotenv:.env.staging:3" {
		t.Errorf("variables: %+v", vs)
	}
}

func TestDotenvMissingFile(t *testing.T) {
	dir := t.TempDir()
	src, _ := NewDotenv(t.Context(), provider.Env{BaseDir: dir}, decodeMap(map[string]any{}))
	_, err := src.Load(t.Context())
	if err == nil || !strings.Contains(err.Error(), "variables file .env does not exist") || strings.Contains(err.Error(), dir) {
		t.Errorf("missing file: %v", err)
	}
	src, _ = NewDotenv(t.Context(), provider.Env{BaseDir: dir}, decodeMap(map[string]any{"optional": true}))
	if vs, err := src.Load(t.Context()); err != nil || len(vs) != 0 {
		t.Errorf("optional: %v %v", vs, err)
	}
}

func TestDotenvMalformedNamesConfiguredPath(t *testing.T) {
	dir := t.TempDir()
	_ = os.WriteFile(filepath.Join(dir, ".env"), []byte("A=1\nnonsense\n"), 0o600)
	src, _ := NewDotenv(t.Context(), provider.Env{BaseDir: dir}, decodeMap(map[string]any{"path": ".env"}))
	_, err := src.Load(t.Context())
	if err == nil || err.Error() != ".env:2: expected NAME=VALUE" {
		t.Errorf("got %v", err)
	}
}

func TestProcessSource(t *testing.T) {
	t.Setenv("DEPLOYCTL_VARS_TEST", "a=b")
	src, err := NewProcess(t.Context(), provider.Env{}, decodeMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	vs, _ := src.Load(t.Context())
	for _, v := range vs {
		if v.Name == "DEPLOYCTL_VARS_TEST" {
			if v.Value != "a=b" || v.Source != "process" {
				t.Errorf("%+v", v)
			}
			return
		}
	}
	t.Error("process variable not loaded")
}
