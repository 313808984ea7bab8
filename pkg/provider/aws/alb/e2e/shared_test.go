package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/aws/s3state"
	"github.com/deployctl/deployctl/pkg/provider/aws/s3store/s3test"
)

// Two operators' folders (two machines) share the lock and the history
// through traffic.aws-alb.state.bucket.
func TestLockAndHistorySharedThroughS3(t *testing.T) {
	s3 := s3test.Start(t)
	name := s3.NewBucket(t)
	ann := newProject(t)
	bob := &project{t: t, dir: t.TempDir(), alb: ann.alb, sm: ann.sm, rule: ann.rule}
	for _, p := range []*project{ann, bob} {
		p.stateYAML = fmt.Sprintf("    state: {bucket: %s, prefix: deployctl, endpoint: %q, path_style: true}", name, s3.URL)
		p.writeEnv(p.alb.URL)
		p.write("environments/variables.yaml", "variables: {}\n")
	}
	ann.must("rollout", "green", "--weight", "10", "--reason", "canary by ann")
	if h := bob.must("history"); !strings.Contains(h.stdout, "canary by ann") {
		t.Fatalf("bob does not see ann's rollout in the history:\n%s", h.stdout)
	}

	var s s3state.Settings
	s.Region = s3test.Region
	s.State.Bucket, s.State.Prefix, s.State.PathStyle = name, "deployctl", true
	b, err := s3state.NewBucket(t.Context(), provider.Env{Name: "production"}, s, s3test.Options(s3.URL))
	if err != nil {
		t.Fatal(err)
	}
	release, err := s3state.NewS3Locker(b).Acquire(t.Context(), provider.Holder{Actor: "carol", Host: "laptop", PID: 7, Command: "maintenance on", Since: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	r := bob.run("rollout", "green", "--weight", "50")
	if r.code != 3 || !strings.Contains(r.stderr, "carol") {
		t.Fatalf("rollout while carol holds the S3 lock: exit %d\n%s", r.code, r.stderr)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	bob.must("rollout", "green", "--weight", "50")
	if w := bob.weights(); w[greenTG] != "50" {
		t.Errorf("weights %v", w)
	}
}
