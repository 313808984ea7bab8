package kubernetes

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/deployctl/deployctl/pkg/postgres/pgtest"
	"github.com/deployctl/deployctl/pkg/provider"
)

// releaseOn runs `deployctl args…` (a release or rollback that deploys
// image to slot) in the background, marks the slot's Deployment ready once
// it runs image, as its controller would, and returns the command's result.
func releaseOn(t *testing.T, e env, op *operator, slot, image string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(deployctl(t), args...)
	cmd.Dir, cmd.Env = op.dir, op.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, func() bool {
		d, _ := srv.Kube.AppsV1().Deployments(e.ns).Get(t.Context(), "api-"+slot, metav1.GetOptions{})
		return d != nil && d.Spec.Template.Spec.Containers[0].Image == image
	})
	srv.MarkReady(t, e.ns, "api-"+slot)
	err := cmd.Wait()
	return out.String(), err
}

// A release on Kubernetes deploys --image to the standby slot's Deployment
// and waits for it to be ready before any traffic moves, then shifts the
// HTTPRoute's weights, promotes and records the release in the cluster; a
// second release goes the other way, and rollback returns the traffic to
// the first release's slot, which still runs its image, without touching
// the database.
func TestE2EReleaseAndRollbackOnKubernetes(t *testing.T) {
	srv.Need(t)
	cl, err := pgtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Stop)
	e := setup(t)
	srv.MarkReady(t, e.ns, "api-blue")
	srv.MarkReady(t, e.ns, "api-green")
	op := newOperator(t, "alice", e.ns, srv.Kubeconfig(t, "alice", "system:masters"), ModeGateway,
		"variables: {sources: [{type: process}]}\ndatabase: {url_from: DATABASE_URL}\nbackup: {storage: {provider: file, path: backups}}\n")
	url := cl.NewDatabase(t)
	op.env = append(op.env, "DATABASE_URL="+url)
	if err := os.MkdirAll(filepath.Join(op.dir, "migrations"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(op.dir, "migrations", "00001_t.sql"), []byte("-- +goose Up\nCREATE TABLE t (id int);\n-- +goose Down\nDROP TABLE t;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	router := &Router{Clients: e.c, Settings: e.s}
	release := []string{"release", "--steps", "50,100", "--skip-checklist", "--reason", "k8s", "--fast", "--yes"}

	out, err := releaseOn(t, e, op, "green", "example/api:2.0", append(release, "--image", "example/api:2.0")...)
	if err != nil || !strings.Contains(out, "v1 succeeded") {
		t.Fatalf("release v1: %v\n%s", err, out)
	}
	if w, _ := router.Weights(t.Context()); w[provider.Green] != 100 {
		t.Fatalf("weights after v1: %v", w)
	}
	out, err = releaseOn(t, e, op, "blue", "example/api:3.0", append(release, "--image", "example/api:3.0")...)
	if err != nil || !strings.Contains(out, "v2 succeeded") {
		t.Fatalf("release v2: %v\n%s", err, out)
	}
	if w, _ := router.Weights(t.Context()); w[provider.Blue] != 100 {
		t.Fatalf("weights after v2: %v", w)
	}

	r := op.must("rollback", "--yes", "--reason", "v2 is slow")
	if !strings.Contains(r.errOut, "back on v1") || !strings.Contains(r.errOut, "the database was not touched") {
		t.Fatalf("rollback:\n%s%s", r.out, r.errOut)
	}
	if w, _ := router.Weights(t.Context()); w[provider.Green] != 100 {
		t.Fatalf("weights after the rollback: %v", w)
	}
	d, _ := srv.Kube.AppsV1().Deployments(e.ns).Get(t.Context(), "api-green", metav1.GetOptions{})
	if img := d.Spec.Template.Spec.Containers[0].Image; img != "example/api:2.0" {
		t.Fatalf("green runs %s after the rollback", img)
	}

	var recs []struct {
		Number     int    `json:"number"`
		Kind       string `json:"kind"`
		Status     string `json:"status"`
		Slot       string `json:"slot"`
		Image      string `json:"image"`
		Version    string `json:"version"`
		RollbackOf int    `json:"rollback_of"`
		BackupID   string `json:"backup_id"`
	}
	if err := json.Unmarshal([]byte(op.must("releases", "-o", "json").out), &recs); err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, r := range recs {
		got += fmt.Sprintf("v%d %s %s %s %s; ", r.Number, r.Kind, r.Status, r.Slot, r.Version)
	}
	if want := "v3 rollback succeeded green example/api:2.0; v2 release succeeded blue example/api:3.0; v1 release succeeded green example/api:2.0; "; got != want {
		t.Fatalf("releases:\n got %s\nwant %s", got, want)
	}
	if recs[0].RollbackOf != 1 || recs[0].Image != "" || recs[0].BackupID != "" || recs[2].BackupID == "" {
		t.Fatalf("records: %+v", recs)
	}
	// the releases live in the cluster, beside the rollout state
	data, _, err := (&StateStore{Clients: e.c, Env: "staging"}).Load(t.Context(), "releases")
	if err != nil || !strings.Contains(string(data), `"rollback_of": 1`) {
		t.Errorf("the releases ConfigMap: %v\n%s", err, data)
	}
}
