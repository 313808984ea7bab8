package alb_test

import (
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/aws/alb"
	"github.com/deployctl/deployctl/pkg/provider/aws/alb/albtest"
)

func snapshot(fx *fixture) string {
	var b strings.Builder
	for _, r := range fx.fake.RulesOf(listenerARN) {
		b.WriteString(r.ARN + " " + r.Priority + " " + r.Actions.Encode() + " " + r.Conditions.Encode() + "\n")
	}
	return b.String()
}

func TestMaintenanceOnAndOffRestoresTheListener(t *testing.T) {
	fx := newFixture(t)
	m := fx.open(t)
	before := snapshot(fx)
	until := time.Date(2026, 11, 25, 23, 0, 0, 0, time.UTC)
	on := provider.MaintenanceState{On: true, Message: "Upgrading the <database>", Until: until, Allow: []string{"10.0.0.0/8"}, By: "ann"}
	if err := m.SetMaintenance(t.Context(), on); err != nil {
		t.Fatal(err)
	}
	rules := fx.fake.RulesOf(listenerARN)
	if len(rules) != 6 {
		t.Fatalf("%d rules after on; want default, api, static, page, health pass and allow", len(rules))
	}
	page, pass, allow := rules[3], rules[4], rules[5]
	if page.Priority != "3" || pass.Priority != "1" || allow.Priority != "2" {
		t.Errorf("priorities page %s pass %s allow %s; want 3, 1 and 2", page.Priority, pass.Priority, allow.Priority)
	}
	if pass.Conditions.Get("member.2.PathPatternConfig.Values.member.2") != "/health/readiness" || pass.Conditions.Get("member.1.HostHeaderConfig.Values.member.1") != "api.example.com" {
		t.Errorf("health pass rule conditions %v", pass.Conditions)
	}
	body := page.Actions.Get("member.1.FixedResponseConfig.MessageBody")
	if page.Actions.Get("member.1.FixedResponseConfig.StatusCode") != "503" || !strings.Contains(body, "Upgrading the &lt;database&gt;") || !strings.Contains(body, "2026-11-25 23:00 UTC") {
		t.Errorf("page action %v", page.Actions)
	}
	if page.Conditions.Get("member.1.HostHeaderConfig.Values.member.1") != "api.example.com" || page.Conditions.Get("member.1.Values.member.1") != "" {
		t.Errorf("page conditions %v; want the api rule's host-header by its config only", page.Conditions)
	}
	if allow.Conditions.Get("member.2.SourceIpConfig.Values.member.1") != "10.0.0.0/8" || allow.Actions.Get("member.1.ForwardConfig.TargetGroups.member.1.TargetGroupArn") != blueTG {
		t.Errorf("allow rule %v %v", allow.Conditions, allow.Actions)
	}
	if w, err := m.Weights(t.Context()); err != nil || w[provider.Blue] != 100 {
		t.Errorf("weights under maintenance %v, %v; the traffic rule must stay", w, err)
	}
	on.Message, on.Allow = "still upgrading", nil
	if err := m.SetMaintenance(t.Context(), on); err != nil {
		t.Fatal(err)
	}
	if n := len(fx.fake.RulesOf(listenerARN)); n != 5 {
		t.Errorf("%d rules after on again without allow-list; want 5", n)
	}
	if st, err := m.Maintenance(t.Context()); err != nil || !st.On || st.Message != "still upgrading" || !st.Until.Equal(until) || st.By != "ann" {
		t.Errorf("state after on again: %+v, %v", st, err)
	}
	for range 2 {
		if err := m.SetMaintenance(t.Context(), provider.MaintenanceState{}); err != nil {
			t.Fatal(err)
		}
	}
	if after := snapshot(fx); after != before {
		t.Errorf("listener after off:\n%s\nbefore:\n%s", after, before)
	}
}

func TestExceptionRulesFollowARolloutDuringMaintenance(t *testing.T) {
	fx := newFixture(t)
	m := fx.open(t)
	if err := m.SetMaintenance(t.Context(), provider.MaintenanceState{On: true, Allow: []string{"192.0.2.0/24"}}); err != nil {
		t.Fatal(err)
	}
	if err := m.SetWeights(t.Context(), provider.Weights{provider.Blue: 0, provider.Green: 100}); err != nil {
		t.Fatal(err)
	}
	rules := fx.fake.RulesOf(listenerARN)
	for _, r := range rules[4:] { // the pass and allow rules
		if a := r.Actions; a.Get("member.1.ForwardConfig.TargetGroups.member.2.TargetGroupArn") != greenTG || a.Get("member.1.ForwardConfig.TargetGroups.member.2.Weight") != "100" {
			t.Errorf("exception rule %s did not follow the rollout: %v", r.ARN, a)
		}
	}
	if page := rules[3]; page.Actions.Get("member.1.Type") != "fixed-response" {
		t.Errorf("the page rule changed: %v", page.Actions)
	}
}

func TestMaintenanceNeedsTheTopPriority(t *testing.T) {
	fx := newFixture(t)
	top := fx.fake.AddRule(listenerARN, "2", hostCond("admin.example.com"), albtest.Forward(map[string]int{staticTG: 1}))
	err := fx.open(t).SetMaintenance(t.Context(), provider.MaintenanceState{On: true})
	if err == nil || !strings.Contains(err.Error(), top) || !strings.Contains(err.Error(), "set-rule-priorities") {
		t.Fatalf("maintenance below a priority-1 rule: %v", err)
	}
}

func TestMaintenanceOnTheDefaultActionCatchesEverything(t *testing.T) {
	fx := newFixture(t)
	fx.fake.AddListener(listenerARN+"2", albtest.Forward(map[string]int{blueTG: 1}))
	fx.set.ListenerARN, fx.set.RuleARN = listenerARN+"2", ""
	if err := fx.open(t).SetMaintenance(t.Context(), provider.MaintenanceState{On: true}); err != nil {
		t.Fatal(err)
	}
	rules := fx.fake.RulesOf(listenerARN + "2")
	if len(rules) != 3 || rules[1].Conditions.Get("member.1.PathPatternConfig.Values.member.1") != "*" || rules[1].Priority != "3" {
		t.Fatalf("rules %+v", rules)
	}
	if c := rules[2].Conditions; c.Get("member.1.PathPatternConfig.Values.member.1") != "/health" || c.Get("member.2.Field") != "" {
		t.Fatalf("the health pass rule must replace the catch-all path, not add a second path-pattern: %v", c)
	}
}

func TestMaintenanceWithoutPassPaths(t *testing.T) {
	fx := newFixture(t)
	fx.set.PassPaths = []string{}
	fx.fake.AddRule(listenerARN, "2", hostCond("admin.example.com"), albtest.Forward(map[string]int{staticTG: 1}))
	if err := fx.open(t).SetMaintenance(t.Context(), provider.MaintenanceState{On: true}); err != nil {
		t.Fatalf("no exception rule needed, priority 1 free: %v", err)
	}
	rules := fx.fake.RulesOf(listenerARN)
	if len(rules) != 5 || rules[4].Priority != "1" {
		t.Fatalf("rules %+v", rules)
	}
}

func TestPageFitsTheLimit(t *testing.T) {
	long := strings.Repeat("<&> ", 600)
	p := alb.Page(provider.MaintenanceState{Message: long, Until: time.Now()})
	if len(p) > alb.MaxBody || !strings.HasSuffix(p, "</body></html>") || !strings.Contains(p, "…") {
		t.Fatalf("page of %d bytes: %s", len(p), p)
	}
}

func TestStateSurvivesALongMessage(t *testing.T) {
	fx := newFixture(t)
	m := fx.open(t)
	msg := strings.Repeat("é", 2000)
	if err := m.SetMaintenance(t.Context(), provider.MaintenanceState{On: true, Message: msg, By: "bob"}); err != nil {
		t.Fatal(err)
	}
	st, err := m.Maintenance(t.Context())
	if err != nil || !st.On || st.By != "bob" || !strings.HasPrefix(msg, st.Message) || st.Message == "" {
		t.Fatalf("state %+v, %v", st, err)
	}
}
