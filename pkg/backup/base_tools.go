package backup

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

func (t Tools) basebackup() string { return or(t.PgBasebackup, "pg_basebackup") }

// server returns the path of PostgreSQL program prog for a server of
// version (the manifest's server_version, "15.4 (Debian …)"): in BinDir
// when set, else Debian's /usr/lib/postgresql/MAJOR/bin, else the folder of
// the postgres on PATH, else prog itself (on PATH or not, exec says).
func (t Tools) server(prog, version string) string {
	if t.BinDir != "" {
		return filepath.Join(t.BinDir, prog)
	}
	major, _, _ := strings.Cut(strings.TrimSpace(version), ".")
	major, _, _ = strings.Cut(major, " ")
	if major != "" {
		p := filepath.Join("/usr/lib/postgresql", major, "bin", prog)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			cand := filepath.Join(filepath.Dir(real), prog)
			if _, err := os.Stat(cand); err == nil {
				return cand
			}
		}
	}
	return prog
}

func (t Tools) verifybackup(version string) string {
	if t.PgVerifybackup != "" {
		return t.PgVerifybackup
	}
	return t.server("pg_verifybackup", version)
}
