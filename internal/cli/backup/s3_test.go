package backup_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/aws/s3store/s3test"
	"github.com/deployctl/deployctl/pkg/provider/local/statefs"
)

// TestEncryptedS3EndToEnd runs the operator's round trip against an S3
// server with age encryption configured in the environment file, and
// checks that a canary database password appears nowhere.
func TestEncryptedS3EndToEnd(t *testing.T) {
	srv := s3test.Start(t)
	bucket := srv.NewBucket(t)
	id, err := age.GenerateX25519Identity()
	must(t, err)
	keyDir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(keyDir, "backup.key"), []byte(id.String()+"\n"), 0o600))
	p := newProject(t, "backup:\n  storage: {provider: s3, bucket: "+bucket+", prefix: staging/db, endpoint: "+srv.URL+", path_style: true}\n"+
		"  encryption: {recipients: ["+id.Recipient().String()+"], identity_file: "+filepath.Join(keyDir, "backup.key")+"}\n")
	p.env = append(p.env, s3test.Environ()...)
	const canary = "canary-Zq8xW2pL"
	url := pg.CreateRole(t, "backup_owner", canary, dbName(p.url))
	p.env = append(p.env, "DEPLOYCTL_DATABASE_URL="+url)
	p.exec(p.url, seedSQL)

	var outputs []string
	r := p.mustRun("backup", "create", "-o", "json")
	outputs = append(outputs, r.out, r.err)
	if !strings.Contains(r.out, `"sha256"`) || !strings.Contains(r.out, `"verification": null`) {
		t.Errorf("create -o json prints the list entry: %s", r.out)
	}
	r = p.mustRun("backup", "verify", "-o", "json")
	outputs = append(outputs, r.out, r.err)
	if !strings.Contains(r.out, `"ok": true`) {
		t.Errorf("verify of an encrypted backup on S3: %s", r.out)
	}
	target := pg.NewDatabase(t)
	r = p.mustRun("backup", "restore", "latest", "--target-url", target, "--yes")
	outputs = append(outputs, r.out, r.err)
	if n := scalar(t, target, "SELECT count(*) FROM users"); n != 300 {
		t.Errorf("restored users: %d", n)
	}
	r = p.mustRun("backup", "list")
	outputs = append(outputs, r.out, r.err)
	if !strings.Contains(r.out, "ok (restore") {
		t.Errorf("list table:\n%s", r.out)
	}
	for _, o := range outputs {
		if strings.Contains(o, canary) {
			t.Fatalf("the canary password was printed:\n%s", o)
		}
	}
	assertNoCanary(t, p.dir, canary)
}

func dbName(url string) string {
	name := url[strings.LastIndex(url, "/")+1:]
	name, _, _ = strings.Cut(name, "?")
	return name
}

// assertNoCanary fails when any file under dir (history, state, manifests)
// holds the canary.
func assertNoCanary(t *testing.T, dir, canary string) {
	t.Helper()
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(p)
		if strings.Contains(string(b), canary) {
			t.Errorf("%s holds the canary password", p)
		}
		return nil
	})
}

func TestCanaryPasswordOnFolder(t *testing.T) {
	p := newProject(t, "")
	const canary = "canary-Hh3Jk9Qa"
	url := pg.CreateRole(t, "backup_owner2", canary, dbName(p.url))
	p.env = append(p.env, "DEPLOYCTL_DATABASE_URL="+url)
	p.exec(p.url, seedSQL)
	var outputs []string
	for _, args := range [][]string{
		{"backup", "create", "--reason", "canary"}, {"backup", "verify"}, {"backup", "list", "-o", "json"},
		{"backup", "restore", "latest", "--clean", "--yes", "--reason", "canary"},
		{"backup", "prune", "--apply", "--yes"}, {"backup", "restore", "latest", "--dry-run", "--clean"},
	} {
		r := p.mustRun(args...)
		outputs = append(outputs, r.out, r.err)
	}
	for _, o := range outputs {
		if strings.Contains(o, canary) {
			t.Fatalf("the canary password was printed:\n%s", o)
		}
	}
	assertNoCanary(t, p.dir, canary)
	h := &statefs.History{Dir: statefs.Root(filepath.Join(p.dir, ".deployctl"), "development")}
	entries, err := h.List(t.Context(), provider.Filter{Command: "backup"})
	must(t, err)
	var got []string
	for _, e := range entries {
		got = append(got, e.Command+":"+e.Result+":"+e.Actor+":"+e.Reason)
	}
	want := "backup create:ok:alice:canary,backup restore:started:alice:canary,backup restore:ok:alice:canary"
	if !strings.HasPrefix(strings.Join(got, ","), want) {
		t.Errorf("history: %v, want it to start with %s", got, want)
	}
}
