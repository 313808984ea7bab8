// Package e2e runs the built deployctl binary like an operator against the
// ELBv2 and Secrets Manager fakes: traffic.provider aws-alb with endpoint
// overrides, and an aws-secrets variable source.
package e2e

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/internal/testbin"
	"github.com/deployctl/deployctl/internal/testkit"
	"github.com/deployctl/deployctl/pkg/provider/aws/alb/albtest"
	"github.com/deployctl/deployctl/pkg/provider/aws/secrets/smtest"
)

var deployctl string

func TestMain(m *testing.M) {
	os.Exit(testbin.Main(func(b *testbin.Built) int {
		deployctl = b.Path("deployctl")
		return m.Run()
	}, "deployctl"))
}

const (
	listenerARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/api/0123456789abcdef/0123456789abcdef"
	blueTG      = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/api-blue/0123456789abcdef"
	greenTG     = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/api-green/0123456789abcdef"
	canary      = "canary-5b2e7c-secret-value"
)

// project is an operator's folder whose production environment shifts
// traffic on the fake load balancer and reads variables from the fake
// Secrets Manager.
type project struct {
	t    *testing.T
	dir  string
	alb  *albtest.Server
	sm   *smtest.Server
	rule string
	// stateYAML is an optional traffic.aws-alb.state section.
	stateYAML string
	// awsEnv replaces the static test credentials when set.
	awsEnv []string
	// moreYAML is appended to the environment file (top-level sections).
	moreYAML string
	// env is appended to the operator's environment (an actor, say).
	env []string
}

func newProject(t *testing.T) *project {
	t.Helper()
	p := &project{t: t, dir: t.TempDir(), alb: albtest.Start(t), sm: smtest.Start(t)}
	p.alb.AddListener(listenerARN, url.Values{"member.1.Type": {"fixed-response"}, "member.1.FixedResponseConfig.StatusCode": {"404"}})
	p.rule = p.alb.AddRule(listenerARN, "10", url.Values{"member.1.Field": {"host-header"}, "member.1.HostHeaderConfig.Values.member.1": {"api.example.com"}}, albtest.Forward(map[string]int{blueTG: 1, greenTG: 0}))
	for _, tg := range []string{blueTG, greenTG} {
		p.alb.SetHealth(tg, albtest.Target{ID: "i-1", State: "healthy"})
	}
	p.sm.Put("api/production", `{"NODE_ENV":"production","DATABASE_URL":"postgres://app:`+canary+`@db.internal/api"}`)
	p.writeEnv(p.alb.URL)
	p.write("environments/variables.yaml", `variables:
  NODE_ENV: {type: enum, values: [development, production], required: true}
  DATABASE_URL: {type: url, schemes: [postgres], required: true, secret: true}
`)
	return p
}

func (p *project) writeEnv(albURL string) {
	p.write("environments/production.yaml", fmt.Sprintf(`variables:
  schema: variables.yaml
  sources:
    - {type: aws-secrets, secret_id: api/production, region: eu-west-1, endpoint: %q}
state: {dir: .deployctl}
traffic:
  provider: aws-alb
  aws-alb:
    region: eu-west-1
    endpoint: %q
    listener_arn: %s
    rule_arn: %s
    call_timeout: 20s
    slots: {blue: {target_group_arn: %q}, green: {target_group_arn: %q}}
%s
health: {timeout: 2s}
maintenance: {allow: [10.0.0.0/8]}
%s`, p.sm.URL, albURL, listenerARN, p.rule, blueTG, greenTG, p.stateYAML, p.moreYAML))
}

func (p *project) write(rel, content string) {
	p.t.Helper()
	testkit.WriteFiles(p.t, p.dir, map[string]string{rel: content})
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs deployctl in the project (its HOME) without a terminal, with
// static AWS credentials (or awsEnv) and no instance metadata.
func (p *project) run(args ...string) result {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, deployctl, append([]string{"-e", "production"}, args...)...)
	cmd.Dir = p.dir
	aws := p.awsEnv
	if aws == nil {
		aws = []string{"AWS_ACCESS_KEY_ID=AKIDTEST", "AWS_SECRET_ACCESS_KEY=test-secret"}
	}
	cmd.Env = append(testbin.OperatorEnv(p.dir, append(aws, "AWS_EC2_METADATA_DISABLED=true")...), p.env...)
	rr := testbin.Run(p.t, cmd)
	r := result{code: rr.Code, stdout: rr.Stdout, stderr: rr.Stderr}
	for _, s := range []string{r.stdout, r.stderr} {
		if strings.Contains(s, canary) {
			p.t.Fatalf("deployctl %v printed the secret canary:\n%s", args, s)
		}
	}
	return r
}

func (p *project) must(args ...string) result {
	p.t.Helper()
	r := p.run(args...)
	if r.code != 0 {
		p.t.Fatalf("deployctl %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// weights reads the rule's weights from the fake, as target group → weight.
func (p *project) weights() map[string]string {
	a := p.alb.Rule(p.rule).Actions
	w := map[string]string{}
	for i := 1; a.Get(fmt.Sprintf("member.1.ForwardConfig.TargetGroups.member.%d.TargetGroupArn", i)) != ""; i++ {
		w[a.Get(fmt.Sprintf("member.1.ForwardConfig.TargetGroups.member.%d.TargetGroupArn", i))] = a.Get(fmt.Sprintf("member.1.ForwardConfig.TargetGroups.member.%d.Weight", i))
	}
	return w
}
