package alb_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/aws/alb"
	"github.com/deployctl/deployctl/pkg/provider/aws/alb/albtest"
)

const oidcSecret = "oidc-client-secret-7f3a"

// oidcForward is an authenticate-oidc action (order 1) before a forward
// to both slots (order 2), as the console makes it.
func oidcForward() url.Values {
	v := url.Values{
		"member.1.Type": {"authenticate-oidc"}, "member.1.Order": {"1"},
		"member.1.AuthenticateOidcConfig.Issuer":                {"https://idp.example.com"},
		"member.1.AuthenticateOidcConfig.AuthorizationEndpoint": {"https://idp.example.com/auth"},
		"member.1.AuthenticateOidcConfig.TokenEndpoint":         {"https://idp.example.com/token"},
		"member.1.AuthenticateOidcConfig.UserInfoEndpoint":      {"https://idp.example.com/userinfo"},
		"member.1.AuthenticateOidcConfig.ClientId":              {"deployctl-test"},
		"member.1.AuthenticateOidcConfig.ClientSecret":          {oidcSecret},
	}
	for k, vs := range albtest.Forward(map[string]int{blueTG: 1, greenTG: 0}) {
		v[strings.Replace(k, "member.1.", "member.2.", 1)] = vs
	}
	v.Set("member.2.Order", "2")
	return v
}

func TestOIDCRuleCanBeShifted(t *testing.T) {
	fx := newFixture(t)
	fx.fake.SetActions(fx.ruleARN, oidcForward())
	m := fx.open(t)
	if err := m.SetWeights(t.Context(), provider.Weights{provider.Blue: 50, provider.Green: 50}); err != nil {
		t.Fatalf("SetWeights on a rule with authenticate-oidc: %v", err)
	}
	a := fx.fake.Rule(fx.ruleARN).Actions
	if a.Get("member.1.AuthenticateOidcConfig.ClientSecret") != oidcSecret || a.Get("member.2.ForwardConfig.TargetGroups.member.2.Weight") != "50" {
		t.Errorf("actions after SetWeights: %v", a)
	}
}

func TestMaintenanceOnAnOIDCRuleRefusesBeforeWriting(t *testing.T) {
	fx := newFixture(t)
	fx.fake.SetActions(fx.ruleARN, oidcForward())
	m := fx.open(t)
	before := snapshot(fx)
	err := m.SetMaintenance(t.Context(), provider.MaintenanceState{On: true})
	if err == nil || !strings.Contains(err.Error(), "authenticate-oidc") || !strings.Contains(err.Error(), "pass_paths") {
		t.Fatalf("maintenance with health pass rules on an OIDC rule: %v", err)
	}
	if strings.Contains(err.Error(), oidcSecret) {
		t.Fatalf("the error leaks the client secret: %v", err)
	}
	if after := snapshot(fx); after != before {
		t.Errorf("a refused maintenance changed the listener:\n%s\nbefore:\n%s", after, before)
	}
	fx.set.PassPaths = []string{}
	if err := fx.open(t).SetMaintenance(t.Context(), provider.MaintenanceState{On: true}); err != nil {
		t.Fatalf("the page alone needs no client secret: %v", err)
	}
}

func TestAllowRuleOverTheConditionValueLimitWritesNothing(t *testing.T) {
	fx := newFixture(t)
	conds := hostCond("api.example.com")
	conds.Set("member.2.Field", "path-pattern")
	conds.Set("member.2.PathPatternConfig.Values.member.1", "/api/*")
	fx.fake.SetActions(fx.ruleARN, albtest.Forward(map[string]int{blueTG: 1, greenTG: 0}))
	rule := fx.fake.AddRule(listenerARN, "5", conds, albtest.Forward(map[string]int{blueTG: 1, greenTG: 0}))
	fx.set.RuleARN = rule
	m := fx.open(t)
	before := snapshot(fx)
	err := m.SetMaintenance(t.Context(), provider.MaintenanceState{On: true, Allow: []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "192.0.2.0/24"}})
	if err == nil || !strings.Contains(err.Error(), "6 condition values") || !strings.Contains(err.Error(), "at most 5") {
		t.Fatalf("an allow rule of host + path + 4 CIDRs: %v", err)
	}
	if after := snapshot(fx); after != before {
		t.Errorf("maintenance left half on:\n%s\nbefore:\n%s", after, before)
	}
	if err := m.SetMaintenance(t.Context(), provider.MaintenanceState{On: true, Allow: []string{"10.0.0.0/8", "192.0.2.0/24", "198.51.100.0/24"}}); err != nil {
		t.Fatalf("host + path + 3 CIDRs fit: %v", err)
	}
}

func TestMaintenanceUndoesWhatItWroteWhenACallFails(t *testing.T) {
	fx := newFixture(t)
	m := fx.open(t)
	before := snapshot(fx)
	fx.fake.Fail("CreateRule", albtest.Fault{Code: "TooManyRules", Message: "You've reached the limit on the number of rules per load balancer", After: 2, Times: 1})
	err := m.SetMaintenance(t.Context(), provider.MaintenanceState{On: true, Allow: []string{"10.0.0.0/8"}})
	if err == nil || !strings.Contains(err.Error(), "quota") || !strings.Contains(err.Error(), "undone") {
		t.Fatalf("maintenance on with the third CreateRule refused: %v", err)
	}
	if after := snapshot(fx); after != before {
		t.Errorf("the failed maintenance left rules behind:\n%s\nbefore:\n%s", after, before)
	}
	if st, err := m.Maintenance(t.Context()); err != nil || st.On {
		t.Errorf("maintenance after the undo: %+v, %v", st, err)
	}
}

func TestValidationErrorInOperatorWords(t *testing.T) {
	fx := newFixture(t)
	fx.fake.Fail("CreateRule", albtest.Fault{Code: "ValidationError", Message: "A rule can only have '5' condition values", Times: 1})
	err := fx.open(t).SetMaintenance(t.Context(), provider.MaintenanceState{On: true})
	if err == nil || !strings.Contains(err.Error(), "condition values per rule") || !strings.Contains(err.Error(), "docs/aws.md") {
		t.Fatalf("ValidationError on too many condition values: %v", err)
	}
}

func TestMaintenanceOnTheDefaultActionIsScopedToTheHosts(t *testing.T) {
	fx := newFixture(t)
	l2 := listenerARN + "2"
	fx.fake.AddListener(l2, albtest.Forward(map[string]int{blueTG: 1, greenTG: 0}))
	fx.fake.AddRule(l2, "20", hostCond("other.example.com"), albtest.Forward(map[string]int{staticTG: 1}))
	fx.set.ListenerARN, fx.set.RuleARN, fx.set.Hosts = l2, "", []string{"api.example.com", "www.example.com"}
	var notes []string
	m, err := alb.New(t.Context(), provider.Env{Name: "production", Notef: func(f string, a ...any) { notes = append(notes, fmt.Sprintf(f, a...)) }}, fx.set, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	m.Router.ReadBackDelay = time.Millisecond
	if err := m.SetMaintenance(t.Context(), provider.MaintenanceState{On: true}); err != nil {
		t.Fatal(err)
	}
	rules := fx.fake.RulesOf(l2)
	if len(rules) != 4 {
		t.Fatalf("%d rules; want default, other, page and pass", len(rules))
	}
	page, pass := rules[2].Conditions, rules[3].Conditions
	if page.Get("member.1.Field") != "host-header" || page.Get("member.1.HostHeaderConfig.Values.member.2") != "www.example.com" || page.Get("member.2.Field") != "" {
		t.Errorf("page rule conditions %v; want the environment's hosts only", page)
	}
	if pass.Get("member.1.HostHeaderConfig.Values.member.1") != "api.example.com" || pass.Get("member.2.PathPatternConfig.Values.member.1") != "/health" {
		t.Errorf("pass rule conditions %v; want the hosts' health paths only", pass)
	}
	if len(notes) != 0 {
		t.Errorf("notes with hosts set: %v", notes)
	}
	if err := m.SetMaintenance(t.Context(), provider.MaintenanceState{}); err != nil {
		t.Fatal(err)
	}

	fx.set.Hosts = nil
	m, err = alb.New(t.Context(), provider.Env{Name: "production", Notef: func(f string, a ...any) { notes = append(notes, fmt.Sprintf(f, a...)) }}, fx.set, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	m.Router.ReadBackDelay = time.Millisecond
	if err := m.SetMaintenance(t.Context(), provider.MaintenanceState{On: true}); err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "traffic.aws-alb.hosts") || !strings.Contains(notes[0], "every host") {
		t.Errorf("notes without hosts: %v", notes)
	}
}

func TestSlotReadiness(t *testing.T) {
	fx := newFixture(t)
	r := fx.open(t)
	fx.fake.SetHealth(greenTG, albtest.Target{ID: "a", State: "healthy"}, albtest.Target{ID: "b", State: "initial", Reason: "Elb.RegistrationInProgress"},
		albtest.Target{ID: "c", State: "initial", Reason: "Elb.RegistrationInProgress"}, albtest.Target{ID: "d", State: "initial", Reason: "Elb.RegistrationInProgress"})
	if st, err := r.Slot(t.Context(), provider.Green); err != nil || st.Ready {
		t.Errorf("1 healthy + 3 initial: %+v, %v; want not ready", st, err)
	}
	fx.fake.SetHealth(greenTG, albtest.Target{ID: "a", State: "healthy"})
	fx.fake.SetActions(fx.ruleARN, albtest.Forward(map[string]int{blueTG: 1}))
	st, err := r.Slot(t.Context(), provider.Green)
	if err != nil || st.Ready || !strings.Contains(st.Detail, "target group "+greenTG+" is attached to no listener rule") || !strings.Contains(st.Detail, "weight 0") {
		t.Errorf("a target group on no rule: %+v, %v", st, err)
	}
}

func TestExceptionRulesCopyTheTransforms(t *testing.T) {
	fx := newFixture(t)
	tr := url.Values{
		"member.1.Type": {"host-header-rewrite"},
		"member.1.HostHeaderRewriteConfig.Rewrites.member.1.Regex":   {`^api\.example\.com$`},
		"member.1.HostHeaderRewriteConfig.Rewrites.member.1.Replace": {"internal.example.com"},
	}
	fx.fake.SetTransforms(fx.ruleARN, tr)
	if err := fx.open(t).SetMaintenance(t.Context(), provider.MaintenanceState{On: true, Allow: []string{"10.0.0.0/8"}}); err != nil {
		t.Fatal(err)
	}
	rules := fx.fake.RulesOf(listenerARN)
	for _, r := range rules[4:] {
		if r.Transforms.Encode() != tr.Encode() {
			t.Errorf("exception rule %s transforms %v; want the traffic rule's %v", r.ARN, r.Transforms, tr)
		}
	}
}

func TestMaintenanceWaitsUntilTheListenerReportsIt(t *testing.T) {
	fx := newFixture(t)
	fx.fake.StaleReads = 3
	m := fx.open(t)
	if err := m.SetMaintenance(t.Context(), provider.MaintenanceState{On: true, Message: "first"}); err != nil {
		t.Fatalf("maintenance on with 3 stale reads: %v", err)
	}
	if err := m.SetMaintenance(t.Context(), provider.MaintenanceState{On: true, Message: "second"}); err != nil {
		t.Fatalf("maintenance on again with 3 stale reads: %v", err)
	}
	if st, err := m.Maintenance(t.Context()); err != nil || st.Message != "second" {
		t.Errorf("state %+v, %v", st, err)
	}
	if err := m.SetMaintenance(t.Context(), provider.MaintenanceState{}); err != nil {
		t.Fatalf("maintenance off with 3 stale reads: %v", err)
	}
	fx.fake.StaleReads = 1000
	m.Router.ReadBack = 3
	err := m.SetMaintenance(t.Context(), provider.MaintenanceState{On: true})
	if err == nil || !strings.Contains(err.Error(), "after 4 reads") {
		t.Fatalf("maintenance on a listener that never reports it: %v", err)
	}
}

func TestCallDeadline(t *testing.T) {
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // then a closed connection cancels r.Context()
		select {                           // never answers while the client waits; a client without a deadline gets a dropped connection instead
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
			panic(http.ErrAbortHandler)
		}
	}))
	t.Cleanup(hang.Close)
	fx := newFixture(t)
	fx.set.Endpoint, fx.set.CallTimeout = hang.URL, 50*time.Millisecond
	_, err := fx.open(t).Weights(t.Context())
	var ue *provider.UnreachableError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "no answer within 50ms") {
		t.Fatalf("Weights against an API that never answers: %v (%T); want *provider.UnreachableError", err, err)
	}
}

func TestNoCredentialsIsAConfigError(t *testing.T) {
	fx := newFixture(t)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	m, err := alb.New(t.Context(), provider.Env{Name: "production"}, fx.set, func(o *elbv2.Options) { o.RetryMaxAttempts = 1 })
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Weights(t.Context())
	var ce *provider.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "AWS_PROFILE") || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Fatalf("Weights without credentials: %v (%T); want a *provider.ConfigError with the hint", err, err)
	}
}
