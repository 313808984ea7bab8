package alb_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/aws/alb"
	"github.com/deployctl/deployctl/pkg/provider/aws/alb/albtest"
	"github.com/deployctl/deployctl/pkg/provider/providertest"
)

const (
	listenerARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/api/0123456789abcdef/0123456789abcdef"
	blueTG      = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/api-blue/0123456789abcdef"
	greenTG     = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/api-green/0123456789abcdef"
	staticTG    = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/static/0123456789abcdef"
)

// fixture is a listener with a 404 default, the api rule (priority 10,
// host api.example.com, 100% blue, stickiness on) and a foreign rule
// (priority 20, /static/*), both slots healthy.
type fixture struct {
	fake    *albtest.Server
	ruleARN string
	other   string
	set     alb.Settings
}

func hostCond(host string) url.Values {
	return url.Values{"member.1.Field": {"host-header"}, "member.1.HostHeaderConfig.Values.member.1": {host}, "member.1.Values.member.1": {host}}
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	fake := albtest.Start(t)
	fake.AddListener(listenerARN, url.Values{"member.1.Type": {"fixed-response"}, "member.1.FixedResponseConfig.StatusCode": {"404"}, "member.1.FixedResponseConfig.ContentType": {"text/plain"}})
	acts := albtest.Forward(map[string]int{blueTG: 1, greenTG: 0}) // green attached at weight 0, as docs/aws.md says
	acts.Set("member.1.ForwardConfig.TargetGroupStickinessConfig.Enabled", "true")
	acts.Set("member.1.ForwardConfig.TargetGroupStickinessConfig.DurationSeconds", "3600")
	rule := fake.AddRule(listenerARN, "10", hostCond("api.example.com"), acts)
	other := fake.AddRule(listenerARN, "20", url.Values{"member.1.Field": {"path-pattern"}, "member.1.PathPatternConfig.Values.member.1": {"/static/*"}}, albtest.Forward(map[string]int{staticTG: 1}))
	for _, tg := range []string{blueTG, greenTG} {
		fake.SetHealth(tg, albtest.Target{ID: "i-1", State: "healthy"}, albtest.Target{ID: "i-2", State: "healthy"})
	}
	s := alb.Settings{Region: "eu-west-1", Endpoint: fake.URL, ListenerARN: listenerARN, RuleARN: rule}
	s.Slots.Blue.TargetGroupARN, s.Slots.Green.TargetGroupARN = blueTG, greenTG
	return &fixture{fake: fake, ruleARN: rule, other: other, set: s}
}

func testOpts(o *elbv2.Options) {
	o.Credentials = credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", "")
	o.RetryMaxAttempts = 1
}

func (fx *fixture) open(t *testing.T) *alb.Maintenance {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	m, err := alb.New(t.Context(), provider.Env{Name: "production"}, fx.set, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	m.Router.ReadBackDelay = time.Millisecond
	return m
}

func TestTrafficRouterSuite(t *testing.T) {
	providertest.TestTrafficRouter(t, func(t *testing.T) providertest.TrafficFixture {
		fx := newFixture(t)
		return providertest.TrafficFixture{Router: fx.open(t).Router, SetReady: func(s provider.Slot, ready bool) {
			state := map[bool]string{true: "healthy", false: "unhealthy"}[ready]
			fx.fake.SetHealth(fx.set.TargetGroup(s), albtest.Target{ID: "i-1", State: "healthy"}, albtest.Target{ID: "i-2", State: state, Reason: "Target.FailedHealthChecks"})
		}}
	})
}

func TestMaintenanceSwitchSuite(t *testing.T) {
	providertest.TestMaintenanceSwitch(t, func(t *testing.T) provider.MaintenanceSwitch { return newFixture(t).open(t) })
}

func TestSetWeightsKeepsTheRestOfTheRule(t *testing.T) {
	fx := newFixture(t)
	before, otherBefore := fx.fake.Rule(fx.ruleARN), fx.fake.Rule(fx.other)
	if err := fx.open(t).SetWeights(t.Context(), provider.Weights{provider.Blue: 90, provider.Green: 10}); err != nil {
		t.Fatal(err)
	}
	after := fx.fake.Rule(fx.ruleARN)
	if after.Conditions.Encode() != before.Conditions.Encode() || after.Priority != "10" {
		t.Errorf("conditions or priority changed:\n%v\n%v", before.Conditions, after.Conditions)
	}
	want := map[string]string{
		"member.1.Type": "forward",
		"member.1.ForwardConfig.TargetGroupStickinessConfig.Enabled":         "true",
		"member.1.ForwardConfig.TargetGroupStickinessConfig.DurationSeconds": "3600",
		"member.1.ForwardConfig.TargetGroups.member.1.TargetGroupArn":        blueTG,
		"member.1.ForwardConfig.TargetGroups.member.1.Weight":                "90",
		"member.1.ForwardConfig.TargetGroups.member.2.TargetGroupArn":        greenTG,
		"member.1.ForwardConfig.TargetGroups.member.2.Weight":                "10",
		"member.1.TargetGroupArn":                                            "",
	}
	for k, v := range want {
		if got := after.Actions.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if o := fx.fake.Rule(fx.other); o.Actions.Encode() != otherBefore.Actions.Encode() {
		t.Errorf("the foreign rule changed: %v", o.Actions)
	}
}

func TestSetWeightsWaitsUntilTheLoadBalancerReportsThem(t *testing.T) {
	fx := newFixture(t)
	fx.fake.StaleReads = 3
	r := fx.open(t)
	if err := r.SetWeights(t.Context(), provider.Weights{provider.Blue: 50, provider.Green: 50}); err != nil {
		t.Fatal(err)
	}
	if n := fx.fake.CallCount("DescribeRules"); n < 5 { // 1 before, 3 stale, 1 fresh
		t.Errorf("DescribeRules called %d times; the read-back did not wait for the new weights: %v", n, fx.fake.Calls)
	}
	fx.fake.StaleReads = 1000
	r.Router.ReadBack = 3
	err := r.SetWeights(t.Context(), provider.Weights{provider.Blue: 0, provider.Green: 100})
	if err == nil || !strings.Contains(err.Error(), "still reports") {
		t.Fatalf("SetWeights with a load balancer that never reports the change: %v", err)
	}
}

func TestListenerDefaultAction(t *testing.T) {
	fx := newFixture(t)
	fx.fake.AddListener(listenerARN+"2", albtest.Forward(map[string]int{blueTG: 3, greenTG: 1}))
	fx.set.ListenerARN, fx.set.RuleARN = listenerARN+"2", ""
	r := fx.open(t)
	if w, err := r.Weights(t.Context()); err != nil || w[provider.Blue] != 75 || w[provider.Green] != 25 {
		t.Fatalf("Weights of 3:1 = %v, %v; want 75/25", w, err)
	}
	if err := r.SetWeights(t.Context(), provider.Weights{provider.Blue: 0, provider.Green: 100}); err != nil {
		t.Fatal(err)
	}
	if fx.fake.CallCount("ModifyListener") != 1 || fx.fake.CallCount("ModifyRule") != 0 {
		t.Errorf("calls %v; want one ModifyListener", fx.fake.Calls)
	}
}

func TestWeightsRefusesAForeignTargetGroup(t *testing.T) {
	fx := newFixture(t)
	fx.set.RuleARN = fx.other
	_, err := fx.open(t).Weights(t.Context())
	if err == nil || !strings.Contains(err.Error(), "neither slot") {
		t.Fatalf("Weights of a rule forwarding elsewhere: %v", err)
	}
}

func TestSlotDetail(t *testing.T) {
	fx := newFixture(t)
	r := fx.open(t)
	cases := []struct {
		targets []albtest.Target
		ready   bool
		detail  string
	}{
		{nil, false, "no targets registered in the target group"},
		{[]albtest.Target{{ID: "a", State: "initial", Reason: "Elb.RegistrationInProgress"}}, false, "1 initial (Elb.RegistrationInProgress)"},
		{[]albtest.Target{{ID: "a", State: "healthy"}, {ID: "b", State: "draining", Reason: "Target.DeregistrationInProgress"}}, true, "1 healthy, 1 draining (Target.DeregistrationInProgress)"},
		{[]albtest.Target{{ID: "a", State: "healthy"}, {ID: "b", State: "unhealthy", Reason: "Target.Timeout"}}, false, "1 healthy, 1 unhealthy (Target.Timeout)"},
	}
	for _, c := range cases {
		fx.fake.SetHealth(greenTG, c.targets...)
		st, err := r.Slot(t.Context(), provider.Green)
		if err != nil || st.Ready != c.ready || st.Detail != c.detail {
			t.Errorf("Slot with %v = %+v, %v; want ready %v, %q", c.targets, st, err, c.ready, c.detail)
		}
	}
}

func TestErrorsInOperatorWords(t *testing.T) {
	fx := newFixture(t)
	r := fx.open(t)
	fx.fake.Fail("DescribeRules", albtest.Fault{Code: "AccessDenied", Message: "User: arn:aws:iam::1:user/ci is not authorized to perform: elasticloadbalancing:DescribeRules", Status: 403, Times: 1})
	if _, err := r.Weights(t.Context()); err == nil || !strings.Contains(err.Error(), "docs/aws.md") || !strings.Contains(err.Error(), "not authorized") {
		t.Errorf("access denied: %v", err)
	}
	fx.fake.Fail("ModifyRule", albtest.Fault{Code: "Throttling", Message: "Rate exceeded", Times: 1})
	if err := r.SetWeights(t.Context(), provider.Weights{provider.Blue: 10, provider.Green: 90}); err == nil || !strings.Contains(err.Error(), "throttled") {
		t.Errorf("throttling: %v", err)
	}
	fx.set.RuleARN = fx.ruleARN + "0"
	if _, err := fx.open(t).Weights(t.Context()); err == nil || !strings.Contains(err.Error(), "traffic.aws-alb.rule_arn") {
		t.Errorf("missing rule: %v", err)
	}
}

func TestUnreachableEndpoint(t *testing.T) {
	fx := newFixture(t)
	fx.set.Endpoint = "http://127.0.0.1:1"
	_, err := fx.open(t).Weights(t.Context())
	var ue *provider.UnreachableError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("Weights against a closed port: %v (%T); want *provider.UnreachableError", err, err)
	}
}
