package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/deployctl/deployctl/pkg/provider/aws/alb/albtest"
)

func TestRolloutOnTheLoadBalancer(t *testing.T) {
	p := newProject(t)
	r := p.must("rollout", "status", "-o", "json")
	if !strings.Contains(r.stdout, `"blue": 100`) && !strings.Contains(r.stdout, `"blue":100`) {
		t.Fatalf("rollout status before: %s", r.stdout)
	}
	p.must("rollout", "green", "--weight", "10", "--reason", "v2 canary")
	if w := p.weights(); w[blueTG] != "90" || w[greenTG] != "10" {
		t.Fatalf("rule weights after rollout green --weight 10: %v", w)
	}
	r = p.must("rollout", "status")
	t.Logf("rollout status:\n%s", r.stdout)
	if !strings.Contains(r.stdout, "10") || !strings.Contains(r.stdout, "90") {
		t.Errorf("rollout status after: %s", r.stdout)
	}
	if h := p.must("history"); !strings.Contains(h.stdout, "rollout green") {
		t.Errorf("history lacks the rollout:\n%s", h.stdout)
	}

	p.alb.SetHealth(greenTG, albtest.Target{ID: "i-1", State: "unhealthy", Reason: "Target.FailedHealthChecks"})
	r = p.run("rollout", "green", "--weight", "50")
	t.Logf("rollout onto an unhealthy slot:\n%s%s", r.stdout, r.stderr)
	if r.code != 1 || !strings.Contains(r.stderr+r.stdout, "unhealthy") {
		t.Fatalf("rollout onto an unhealthy target group: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if w := p.weights(); w[greenTG] != "10" {
		t.Errorf("a refused rollout moved the weights to %v", w)
	}
}

func TestMaintenanceOnTheLoadBalancer(t *testing.T) {
	p := newProject(t)
	before := len(p.alb.RulesOf(listenerARN))
	p.must("maintenance", "on", "--message", "Database upgrade", "--until", "30m")
	rules := p.alb.RulesOf(listenerARN)
	if len(rules) != before+3 {
		t.Fatalf("%d rules after maintenance on; want the page, the health pass and the allow-list rule", len(rules))
	}
	page := rules[before]
	if page.Actions.Get("member.1.FixedResponseConfig.StatusCode") != "503" || !strings.Contains(page.Actions.Get("member.1.FixedResponseConfig.MessageBody"), "Database upgrade") {
		t.Errorf("page rule %v", page.Actions)
	}
	var st struct {
		On      bool
		Message string
	}
	if err := json.Unmarshal([]byte(p.must("maintenance", "status", "-o", "json").stdout), &st); err != nil || !st.On || st.Message != "Database upgrade" {
		t.Errorf("maintenance status: %+v, %v", st, err)
	}
	p.must("maintenance", "on", "--message", "Database upgrade")
	if n := len(p.alb.RulesOf(listenerARN)); n != before+3 {
		t.Errorf("on twice left %d rules", n)
	}
	p.must("maintenance", "off")
	p.must("maintenance", "off")
	if n := len(p.alb.RulesOf(listenerARN)); n != before {
		t.Errorf("%d rules after off; want %d", n, before)
	}
	if w := p.weights(); len(w) != 0 && w[blueTG] == "0" {
		t.Errorf("maintenance changed the traffic rule: %v", w)
	}
}

func TestEnvValidateFromSecretsManager(t *testing.T) {
	p := newProject(t)
	r := p.must("env", "validate")
	t.Logf("env validate:\n%s%s", r.stdout, r.stderr)
	if !strings.Contains(r.stdout+r.stderr, "aws-secrets:api/production") && !strings.Contains(r.stdout+r.stderr, "DATABASE_URL") {
		t.Errorf("env validate output names neither the source nor the variable:\n%s%s", r.stdout, r.stderr)
	}
	p.sm.Put("api/production", `{"NODE_ENV":"staging-typo","DATABASE_URL":"postgres://app:`+canary+`@db.internal/api"}`)
	if r := p.run("env", "validate"); r.code != 1 {
		t.Errorf("env validate with a bad NODE_ENV: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	p.sm.Deny("api/production")
	if r := p.run("env", "validate"); r.code != 1 || !strings.Contains(r.stderr, "secretsmanager:GetSecretValue") {
		t.Errorf("env validate with access denied: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestUnreachableLoadBalancerExits4(t *testing.T) {
	p := newProject(t)
	p.writeEnv("http://127.0.0.1:1")
	r := p.run("rollout", "status")
	if r.code != 4 || !strings.Contains(r.stderr, "cannot reach the AWS load balancer API") {
		t.Fatalf("rollout status with the API down: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestMaintenanceWithoutPassPaths(t *testing.T) {
	p := newProject(t)
	p.stateYAML = "    pass_paths: []"
	p.writeEnv(p.alb.URL)
	before := len(p.alb.RulesOf(listenerARN))
	p.must("maintenance", "on", "--allow", "192.0.2.0/24")
	if n := len(p.alb.RulesOf(listenerARN)); n != before+2 {
		t.Fatalf("%d rules with pass_paths: []; want the page and the allow rule only", n-before)
	}
	p.must("maintenance", "off")
}
