package backup_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/provider/aws/s3store/s3test"
)

// gateway is one versitygw process of its own, so that a test can stop it
// while the other keeps serving.
type gateway struct {
	url, dir string
	cmd      *exec.Cmd
	exited   chan struct{}
	log      bytes.Buffer
}

func startGateway(t *testing.T) *gateway { t.Helper(); return startGatewayIn(t, t.TempDir()) }

// startGatewayIn serves the buckets in dir (those of a stopped gateway: it
// comes back, on another port).
func startGatewayIn(t *testing.T, dir string) *gateway {
	t.Helper()
	bin := os.Getenv(s3test.GatewayEnv)
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set", s3test.GatewayEnv)
		}
		t.Skipf("SKIPPED: %s is not set; export %s=$(scripts/versitygw/build)", s3test.GatewayEnv, s3test.GatewayEnv)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := l.Addr().String()
	l.Close()
	g := &gateway{url: "http://" + addr, dir: dir, exited: make(chan struct{})}
	g.cmd = exec.Command(bin, "--port", addr, "--region", s3test.Region, "--quiet", "posix", g.dir)
	g.cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s3test.AccessKey, "ROOT_SECRET_KEY="+s3test.SecretKey)
	g.cmd.Stdout, g.cmd.Stderr = &g.log, &g.log
	must(t, g.cmd.Start())
	go func() { _ = g.cmd.Wait(); close(g.exited) }()
	t.Cleanup(g.stop)
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := c.Get(g.url + "/"); err == nil {
			resp.Body.Close()
			return g
		}
		select {
		case <-g.exited:
			t.Fatalf("versitygw exited at start: %s", g.log.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw on %s not answering: %s", addr, g.log.String())
		}
	}
}

// bucket creates a bucket (a sub-folder of the gateway's folder).
func (g *gateway) bucket(t *testing.T, name string) string {
	t.Helper()
	must(t, os.Mkdir(filepath.Join(g.dir, name), 0o755))
	return name
}

// stop ends the gateway: SIGINT, then SIGKILL after 5 s.
func (g *gateway) stop() {
	if g.cmd.Process == nil {
		return
	}
	select {
	case <-g.exited:
		return
	default:
	}
	_ = g.cmd.Process.Signal(os.Interrupt)
	select {
	case <-g.exited:
	case <-time.After(5 * time.Second):
		_ = g.cmd.Process.Kill()
		<-g.exited
	}
}

func copiesYAML(g1, b1, g2, b2, folder string, min int) string {
	y := fmt.Sprintf("backup:\n  storage:\n    provider: s3\n    bucket: %s\n    endpoint: %s\n    path_style: true\n"+
		"    copies:\n      - {provider: s3, bucket: %s, endpoint: %s, path_style: true}\n      - {provider: file, path: %s}\n",
		b1, g1, b2, g2, folder)
	if min > 0 {
		y += fmt.Sprintf("    min_copies: %d\n", min)
	}
	return y
}

func (p *project) writeConfig(yaml string) {
	p.t.Helper()
	must(p.t, os.WriteFile(filepath.Join(p.dir, "environments", "development.yaml"),
		[]byte("variables: {sources: [{type: process}]}\ndatabase: {url_from: DATABASE_URL}\n"+yaml), 0o644))
}

type copiesList struct {
	Backups []struct {
		ID string `json:"id"`
	} `json:"backups"`
	Stores map[string][]string `json:"stores"`
}

func (p *project) copiesList() (copiesList, result) {
	p.t.Helper()
	var l copiesList
	r := p.mustRun("backup", "list", "-o", "json")
	must(p.t, json.Unmarshal([]byte(r.out), &l))
	return l, r
}

// TestCopiesEndToEnd: a backup goes to two versitygw servers and a folder;
// with the primary stopped, list, restore, verify and wal fetch read from
// the next copy and say so; a corrupt copy fails verify naming its store.
func TestCopiesEndToEnd(t *testing.T) {
	g1, g2 := startGateway(t), startGateway(t)
	b1, b2 := g1.bucket(t, "primary"), g2.bucket(t, "second")
	folder := filepath.Join(t.TempDir(), "third")
	p := newProject(t, copiesYAML(g1.url, b1, g2.url, b2, folder, 0))
	p.env = append(p.env, s3test.Environ()...)
	p.exec(p.url, seedSQL)

	r := p.mustRun("backup", "create", "-o", "json")
	if strings.Contains(r.err, "warning") {
		t.Errorf("create with every store up warns:\n%s", r.err)
	}
	var created struct {
		ID     string `json:"id"`
		Object string `json:"object"`
	}
	must(t, json.Unmarshal([]byte(r.out), &created))
	if created.ID == "" {
		t.Fatalf("create -o json: %s", r.out)
	}
	id := created.ID
	for _, dir := range []string{filepath.Join(g1.dir, b1, id), filepath.Join(g2.dir, b2, id), filepath.Join(folder, id)} {
		for _, obj := range []string{"manifest.json", "dump.zst"} {
			if _, err := os.Stat(filepath.Join(dir, obj)); err != nil {
				t.Errorf("not written to every store: %v", err)
			}
		}
	}
	stores := []string{"s3://" + b1 + "/", "s3://" + b2 + "/", "folder " + folder}
	l, _ := p.copiesList()
	if len(l.Backups) != 1 || strings.Join(l.Stores[id], "|") != strings.Join(stores, "|") {
		t.Errorf("list -o json stores: %+v", l)
	}
	r = p.mustRun("backup", "list")
	if !strings.Contains(r.out, "STORES") || !strings.Contains(r.out, "3 of 3") {
		t.Errorf("list table:\n%s", r.out)
	}

	// A WAL file, archived to every store.
	walDir := t.TempDir()
	seg := filepath.Join(walDir, "000000010000000000000001")
	walData := bytes.Repeat([]byte("wal-bytes-"), 1000)
	must(t, os.WriteFile(seg, walData, 0o600))
	p.mustRun("wal", "push", seg)

	// The dump is missing from the primary: restore reads it from the next.
	primaryDump := filepath.Join(g1.dir, b1, id, "dump.zst")
	saved, err := os.ReadFile(primaryDump)
	must(t, err)
	must(t, os.Remove(primaryDump))
	r = p.mustRun("backup", "restore", "latest", "--target-url", pg.NewDatabase(t), "--yes")
	if want := "note: backup object " + id + "/dump.zst is missing from store " + stores[0] + ": read from store " + stores[1]; !strings.Contains(r.err, want) {
		t.Errorf("restore of a dump missing from the primary:\n%s\nwant %q", r.err, want)
	}
	// The primary's dump is corrupt (same size, other bytes): restore
	// checks it against the manifest before the target is touched, and
	// restores the next copy that matches, saying so.
	bad := append([]byte(nil), saved...)
	bad[len(bad)/2] ^= 0xff
	must(t, os.WriteFile(primaryDump, bad, 0o600))
	target0 := pg.NewDatabase(t)
	r = p.mustRun("backup", "restore", "latest", "--target-url", target0, "--yes")
	if !strings.Contains(r.err, "restoring the copy in "+stores[1]+", which matches the manifest") {
		t.Errorf("restore of a dump corrupt in the primary:\n%s", r.err)
	}
	if n := scalar(t, target0, "SELECT count(*) FROM users"); n != 300 {
		t.Errorf("restored users from the second copy: %d", n)
	}
	must(t, os.WriteFile(primaryDump, saved, 0o600))

	// The primary stops.
	g1.stop()

	l, r = p.copiesList()
	if len(l.Backups) != 1 || strings.Join(l.Stores[id], "|") != strings.Join(stores[1:], "|") {
		t.Errorf("list with the primary down: %+v\nstderr: %s", l, r.err)
	}
	if !strings.Contains(r.err, "store "+stores[0]+" cannot be read") {
		t.Errorf("list does not say the primary is down:\n%s", r.err)
	}

	target := pg.NewDatabase(t)
	r = p.mustRun("backup", "restore", "latest", "--target-url", target, "--yes")
	t.Logf("restore with the primary down, stderr:\n%s", r.err)
	if n := scalar(t, target, "SELECT count(*) FROM users"); n != 300 {
		t.Errorf("restored users: %d", n)
	}
	if !strings.Contains(r.err, "store "+stores[0]+" cannot be read") || !strings.Contains(r.err, "reading from the other copies") {
		t.Errorf("restore does not say it fell back:\n%s", r.err)
	}

	dest := filepath.Join(t.TempDir(), "RECOVERYXLOG")
	r = p.mustRun("wal", "fetch", "000000010000000000000001", dest)
	if got, err := os.ReadFile(dest); err != nil || !bytes.Equal(got, walData) {
		t.Errorf("wal fetch from the next copy: %v", err)
	}
	if !strings.Contains(r.err, "store "+stores[0]+" cannot be read") {
		t.Errorf("wal fetch does not say it fell back:\n%s", r.err)
	}

	var vr struct {
		OK       bool     `json:"ok"`
		Problems []string `json:"problems"`
		Copies   []struct {
			Store  string `json:"store"`
			OK     bool   `json:"ok"`
			Detail string `json:"detail"`
		} `json:"copies"`
	}
	r = p.mustRun("backup", "verify", "--level", "checksum", "-o", "json")
	must(t, json.Unmarshal([]byte(r.out), &vr))
	if !vr.OK || len(vr.Copies) != 3 || vr.Copies[0].OK || !vr.Copies[1].OK || !vr.Copies[2].OK {
		t.Errorf("verify with the primary down: %s", r.out)
	}
	if !strings.Contains(r.err, "the copy in store "+stores[0]+" was not checked") {
		t.Errorf("verify does not name the unchecked copy:\n%s", r.err)
	}

	// The folder's copy is corrupted (same size, other bytes).
	dump := filepath.Join(folder, id, "dump.zst")
	raw, err := os.ReadFile(dump)
	must(t, err)
	raw[len(raw)/2] ^= 0xff
	must(t, os.WriteFile(dump, raw, 0o600))
	r = p.run("backup", "verify", "--level", "checksum")
	t.Logf("verify of a corrupt copy, stderr:\n%s", r.err)
	r = p.run("backup", "verify", "--level", "checksum", "-o", "json")
	vr.Copies = nil
	must(t, json.Unmarshal([]byte(r.out), &vr))
	if r.code != 1 || vr.OK || len(vr.Copies) != 3 || vr.Copies[2].OK || !vr.Copies[1].OK {
		t.Fatalf("verify of a corrupt copy: exit %d\n%s\n%s", r.code, r.out, r.err)
	}
	if len(vr.Problems) != 1 || !strings.Contains(vr.Problems[0], "store "+stores[2]+" differs from the manifest") {
		t.Errorf("the problem names the store: %q", vr.Problems)
	}
	r = p.mustRun("backup", "list")
	t.Logf("list after a corrupt copy:\n%s%s", r.out, r.err)
	if !strings.Contains(r.out, "FAILED") || !strings.Contains(r.out, "2 of 3 (cannot read "+stores[0]+")") || strings.Contains(r.out, "below min_copies") {
		t.Errorf("list shows the failed verification:\n%s", r.out)
	}
}

// TestCopiesMinCopiesEndToEnd: a store stopped before create fails the
// create with min_copies 3 (and leaves no backup) and only warns with 2.
func TestCopiesMinCopiesEndToEnd(t *testing.T) {
	g1, g2 := startGateway(t), startGateway(t)
	b1, b2 := g1.bucket(t, "primary"), g2.bucket(t, "second")
	folder := filepath.Join(t.TempDir(), "third")
	p := newProject(t, copiesYAML(g1.url, b1, g2.url, b2, folder, 3))
	p.env = append(p.env, s3test.Environ()...)
	p.exec(p.url, seedSQL)
	g2.stop()
	down := "s3://" + b2 + "/"

	r := p.run("backup", "create")
	if r.code == 0 || !strings.Contains(r.err, "min_copies is 3") || !strings.Contains(r.err, "store "+down) {
		t.Fatalf("create with a store down and min_copies 3: exit %d\n%s", r.code, r.err)
	}
	l, r := p.copiesList()
	if len(l.Backups) != 0 || strings.Contains(r.err, "incomplete backup folder") {
		t.Errorf("a failed create left a backup: %+v\n%s", l, r.err)
	}
	for _, dir := range []string{filepath.Join(g1.dir, b1), folder} {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if sub, _ := os.ReadDir(filepath.Join(dir, e.Name())); len(sub) > 0 {
				t.Errorf("%s keeps %s of the failed create", dir, e.Name())
			}
		}
	}

	p.writeConfig(copiesYAML(g1.url, b1, g2.url, b2, folder, 2))
	r = p.mustRun("backup", "create")
	t.Logf("create with a store down and min_copies 2, stderr:\n%s", r.err)
	if !strings.Contains(r.err, "warning: backup object") || !strings.Contains(r.err, "not written to store "+down) || !strings.Contains(r.err, "min_copies is 2") {
		t.Errorf("create with min_copies 2 does not warn naming the store:\n%s", r.err)
	}
	l, _ = p.copiesList()
	if len(l.Backups) != 1 || len(l.Stores[l.Backups[0].ID]) != 2 {
		t.Fatalf("list: %+v", l)
	}
	r = p.mustRun("backup", "list")
	if !strings.Contains(r.out, "2 of 3 (cannot read "+down+")") || strings.Contains(r.out, "below min_copies") {
		t.Errorf("list table with the store down:\n%s", r.out)
	}

	// The store comes back: it is known to lack the backup.
	g2 = startGatewayIn(t, g2.dir)
	p.writeConfig(copiesYAML(g1.url, b1, g2.url, b2, folder, 2))
	r = p.mustRun("backup", "list")
	t.Logf("list:\n%s%s", r.out, r.err)
	if !strings.Contains(r.out, "2 of 3 (not in "+down+")") || strings.Contains(r.out, "below min_copies") || r.err != "" {
		t.Errorf("list table with the store back:\n%s%s", r.out, r.err)
	}
	p.writeConfig(copiesYAML(g1.url, b1, g2.url, b2, folder, 0))
	if r = p.mustRun("backup", "list"); !strings.Contains(r.out, "2 of 3 (not in "+down+"), below min_copies 3") {
		t.Errorf("list table with min_copies 3:\n%s", r.out)
	}
}

// TestCopiesHungStoreEndToEnd: one of the S3 servers stops answering
// without closing its port (SIGSTOP: the kernel still accepts connections,
// as a hung server or a black-holed route would). With min_copies 2, create
// and wal push still succeed within the stall and call timeouts, warn
// naming the hung store, and list shows the backup in 2 of 3 stores; with
// min_copies 3 the create fails naming it and leaves no backup.
func TestCopiesHungStoreEndToEnd(t *testing.T) {
	g1, g2 := startGateway(t), startGateway(t)
	b1, b2 := g1.bucket(t, "primary"), g2.bucket(t, "second")
	folder := filepath.Join(t.TempDir(), "third")
	yaml := func(min int) string {
		return fmt.Sprintf("backup:\n  storage:\n    provider: s3\n    bucket: %s\n    endpoint: %s\n    path_style: true\n    timeout: 2s\n"+
			"    stall_timeout: 2s\n    min_copies: %d\n"+
			"    copies:\n      - {provider: s3, bucket: %s, endpoint: %s, path_style: true, timeout: 2s}\n      - {provider: file, path: %s}\n",
			b1, g1.url, min, b2, g2.url, folder)
	}
	p := newProject(t, yaml(2))
	p.env = append(p.env, s3test.Environ()...)
	p.exec(p.url, seedSQL)
	must(t, g2.cmd.Process.Signal(syscall.SIGSTOP))
	t.Cleanup(func() { _ = g2.cmd.Process.Signal(syscall.SIGCONT) }) // before its stop (cleanups run last first)
	hung := "s3://" + b2 + "/"

	r := p.mustRun("backup", "create")
	t.Logf("create with %s hung, stderr:\n%s", hung, r.err)
	if !strings.Contains(r.err, "not written to store "+hung) {
		t.Errorf("create with a hung store does not warn naming it:\n%s", r.err)
	}
	walDir := t.TempDir()
	seg := filepath.Join(walDir, "000000010000000000000001")
	must(t, os.WriteFile(seg, bytes.Repeat([]byte("wal-bytes-"), 100000), 0o600))
	r = p.mustRun("wal", "push", seg)
	if !strings.Contains(r.err, "not written to store "+hung) {
		t.Errorf("wal push with a hung store does not warn naming it:\n%s", r.err)
	}
	l, _ := p.copiesList()
	if len(l.Backups) != 1 || len(l.Stores[l.Backups[0].ID]) != 2 {
		t.Fatalf("list with a hung store: %+v", l)
	}

	p.writeConfig(yaml(3))
	r = p.run("backup", "create")
	if r.code == 0 || !strings.Contains(r.err, hung) || !strings.Contains(r.err, "min_copies is 3") {
		t.Fatalf("create with a hung store and min_copies 3: exit %d\n%s", r.code, r.err)
	}
	if l, _ = p.copiesList(); len(l.Backups) != 1 {
		t.Errorf("the failed create left a backup: %+v", l)
	}
}

// TestCopiesStoreKilledDuringWALBacklog: a backlog of WAL is being archived
// (the push in the background at work) when one S3 server is killed. Every
// push as the archiver runs them succeeds (min_copies 2), every segment is
// then in the other two stores, and fetches back whole.
func TestCopiesStoreKilledDuringWALBacklog(t *testing.T) {
	g1, g2 := startGateway(t), startGateway(t)
	b1, b2 := g1.bucket(t, "primary"), g2.bucket(t, "second")
	folder := filepath.Join(t.TempDir(), "third")
	spool := filepath.Join(t.TempDir(), "spool")
	p := newProject(t, copiesYAML(g1.url, b1, g2.url, b2, folder, 2)+
		"  wal: {spool: "+spool+"}\n")
	p.env = append(p.env, s3test.Environ()...)
	status := filepath.Join(p.dir, "pg_wal", "archive_status")
	must(t, os.MkdirAll(status, 0o700))
	var names []string
	data := map[string][]byte{}
	for i := 1; i <= 30; i++ {
		name := fmt.Sprintf("0000000100000000000000%02X", i)
		d := bytes.Repeat([]byte(fmt.Sprintf("wal %d ", i)), 2<<20/6)
		must(t, os.WriteFile(filepath.Join(p.dir, "pg_wal", name), d, 0o600))
		must(t, os.WriteFile(filepath.Join(status, name+".ready"), nil, 0o600))
		names, data[name] = append(names, name), d
	}
	push := func(name string) {
		t.Helper()
		r := p.run("wal", "push", "pg_wal/"+name)
		if r.code != 0 {
			t.Fatalf("wal push pg_wal/%s: exit %d\n%s", name, r.code, r.err)
		}
		must(t, os.Rename(filepath.Join(status, name+".ready"), filepath.Join(status, name+".done")))
	}
	push(names[0])
	_ = g2.cmd.Process.Kill() // the push in the background is at work
	<-g2.exited
	// the process in the background ends (its lock is free)
	locks, _ := filepath.Glob(filepath.Join(spool, "*", "push.lock"))
	for _, l := range locks {
		f, err := os.Open(l)
		must(t, err)
		must(t, syscall.Flock(int(f.Fd()), syscall.LOCK_EX)) // waits for it
		f.Close()
	}
	for _, n := range names[1:] {
		push(n)
	}
	for _, dir := range []string{filepath.Join(g1.dir, b1, "wal", "00000001"), filepath.Join(folder, "wal", "00000001")} {
		ents, err := os.ReadDir(dir)
		must(t, err)
		if len(ents) != len(names) {
			t.Errorf("%s holds %d of the %d segments", dir, len(ents), len(names))
		}
	}
	for name, want := range data {
		dest := filepath.Join(t.TempDir(), "RECOVERYXLOG")
		p.mustRun("wal", "fetch", name, dest)
		if got, err := os.ReadFile(dest); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s fetched back: %d bytes, %v", name, len(got), err)
		}
	}
}
