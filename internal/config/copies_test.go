package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deployctl/deployctl/internal/config"
	"github.com/deployctl/deployctl/pkg/provider/all"
)

func loadCopies(t *testing.T, storage string) (*config.Loaded, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dev.yaml"), []byte("backup:\n  storage:\n"+storage), 0o644); err != nil {
		t.Fatal(err)
	}
	return config.Load(config.Options{Env: "dev", Dir: dir, Providers: all.Registry()})
}

func TestCopiesKeys(t *testing.T) {
	l, err := loadCopies(t, "    provider: file\n    path: /a\n    copies:\n      - {provider: file, path: /b}\n      - {provider: s3, bucket: x, endpoint: 'http://h:1', path_style: true}\n    min_copies: 2\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Warnings) != 0 {
		t.Errorf("warnings: %q", l.Warnings)
	}
	if len(l.Backup.Storage.Copies) != 2 || l.Backup.Storage.MinCopies != 2 {
		t.Fatalf("storage: %+v", l.Backup.Storage)
	}
	var s struct {
		Bucket    string `mapstructure:"bucket"`
		PathStyle bool   `mapstructure:"path_style"`
	}
	if err := l.DecodeCopy(1, &s); err != nil || s.Bucket != "x" || !s.PathStyle {
		t.Errorf("copy 1: %+v %v", s, err)
	}

	for storage, want := range map[string]string{
		"    copies: [{provider: file, pth: /b}]\n":                     `backup.storage.copies[0]: unknown key "pth" for provider file`,
		"    copies: [{path: /b}]\n":                                    "backup.storage.copies[0]: set provider",
		"    copies: [{provider: tape}]\n":                              "backup.storage.copies[0]: ",
		"    copies: [{provider: file, path: /b}]\n    min_copies: 3\n": "backup.storage.min_copies 3 must be between 1 and 2",
	} {
		if _, err := loadCopies(t, storage); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", storage, err, want)
		}
	}
}
