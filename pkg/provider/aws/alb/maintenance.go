package alb

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/deployctl/deployctl/pkg/provider"
)

// Maintenance puts a fixed-response 503 rule above every rule of the
// listener, matching the requests the traffic rule matches. Allow-listed
// CIDRs get a forward rule one priority higher still, a copy of the traffic
// rule's actions with a source-ip condition: ALB conditions cannot exclude
// addresses, so the allow-list is implemented as an exception rule.
// Both rules carry tags that name them deployctl's, and the page rule's tags
// hold the switch's state, so any machine can tell and undo it.
type Maintenance struct {
	*Router
	API MaintenanceAPI
	Env string
}

var _ provider.MaintenanceSwitch = (*Maintenance)(nil)

const (
	tagRole    = "deployctl:maintenance" // "page" or "allow"
	tagEnv     = "deployctl:env"
	rolePage   = "page"
	roleAllow  = "allow"
	maxAllowed = 4 // ALB allows 5 condition values per rule; one is left for the copied conditions
)

// listener is the listener's rules and which of them are deployctl's.
type listener struct {
	rules    []types.Rule
	page     *types.Rule
	allow    *types.Rule
	pageTags map[string]string
}

func (m *Maintenance) load(ctx context.Context) (*listener, error) {
	l := &listener{}
	in := &elbv2.DescribeRulesInput{ListenerArn: aws.String(m.Settings.ListenerARN)}
	for {
		out, err := m.API.DescribeRules(ctx, in)
		if err != nil {
			return nil, explain(m.Settings, "list the listener's rules", err)
		}
		l.rules = append(l.rules, out.Rules...)
		if aws.ToString(out.NextMarker) == "" {
			break
		}
		in.Marker = out.NextMarker
	}
	return l, m.classify(ctx, l)
}

// classify finds deployctl's rules by their tags, 20 ARNs per call.
func (m *Maintenance) classify(ctx context.Context, l *listener) error {
	byARN := map[string]int{}
	var arns []string
	for i, r := range l.rules {
		if !aws.ToBool(r.IsDefault) {
			byARN[aws.ToString(r.RuleArn)] = i
			arns = append(arns, aws.ToString(r.RuleArn))
		}
	}
	for start := 0; start < len(arns); start += 20 {
		out, err := m.API.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: arns[start:min(start+20, len(arns))]})
		if err != nil {
			return explain(m.Settings, "read the rules' tags", err)
		}
		for _, d := range out.TagDescriptions {
			tags := tagMap(d.Tags)
			if tags[tagEnv] != m.Env {
				continue
			}
			r := &l.rules[byARN[aws.ToString(d.ResourceArn)]]
			switch tags[tagRole] {
			case rolePage:
				l.page, l.pageTags = r, tags
			case roleAllow:
				l.allow = r
			}
		}
	}
	return nil
}

func tagMap(ts []types.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range ts {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// Maintenance reports the switch from the page rule's tags.
func (m *Maintenance) Maintenance(ctx context.Context) (provider.MaintenanceState, error) {
	l, err := m.load(ctx)
	if err != nil || l.page == nil {
		return provider.MaintenanceState{}, err
	}
	st := decodeState(l.pageTags)
	st.On = true
	return st, nil
}

// SetMaintenance turns maintenance on (again: page and allow-list are
// updated in place) or off (deployctl's rules are deleted, and traffic flows
// by the untouched traffic rule again). It returns once the listener
// reports the change.
func (m *Maintenance) SetMaintenance(ctx context.Context, st provider.MaintenanceState) error {
	if len(st.Allow) > maxAllowed {
		return fmt.Errorf("an ALB rule matches at most %d source CIDRs besides its other conditions; %d are allowed: merge them into wider ranges", maxAllowed, len(st.Allow))
	}
	l, err := m.load(ctx)
	if err != nil {
		return err
	}
	if !st.On {
		err = m.off(ctx, l)
	} else {
		err = m.on(ctx, l, st)
	}
	if err != nil {
		return err
	}
	return m.verify(ctx, st)
}

func (m *Maintenance) off(ctx context.Context, l *listener) error {
	// The page goes first: from then on traffic flows normally for everyone.
	for _, r := range []*types.Rule{l.page, l.allow} {
		if r == nil {
			continue
		}
		if _, err := m.API.DeleteRule(ctx, &elbv2.DeleteRuleInput{RuleArn: r.RuleArn}); err != nil && !isCode(err, "RuleNotFound") {
			return explain(m.Settings, "delete maintenance rule", err)
		}
	}
	return nil
}

func (m *Maintenance) on(ctx context.Context, l *listener, st provider.MaintenanceState) error {
	conds, acts, err := m.trafficMatch(l)
	if err != nil {
		return err
	}
	if l.allow != nil { // re-created below with the new allow-list
		if _, err := m.API.DeleteRule(ctx, &elbv2.DeleteRuleInput{RuleArn: l.allow.RuleArn}); err != nil && !isCode(err, "RuleNotFound") {
			return explain(m.Settings, "delete the allow-list rule", err)
		}
	}
	pagePrio, allowPrio, err := m.priorities(l, len(st.Allow) > 0)
	if err != nil {
		return err
	}
	if l.page == nil {
		tags := append(m.tags(rolePage), encodeState(st)...)
		if err := m.create(ctx, pagePrio, conds, []types.Action{pageAction(st)}, tags); err != nil {
			return err
		}
	} else if err := m.update(ctx, l.page, st); err != nil {
		return err
	}
	if len(st.Allow) == 0 {
		return nil
	}
	src := types.RuleCondition{Field: aws.String("source-ip"), SourceIpConfig: &types.SourceIpConditionConfig{Values: st.Allow}}
	return m.create(ctx, allowPrio, append(conds, src), acts, m.tags(roleAllow))
}

func (m *Maintenance) tags(role string) []types.Tag {
	return []types.Tag{{Key: aws.String(tagRole), Value: aws.String(role)}, {Key: aws.String(tagEnv), Value: aws.String(m.Env)}}
}

func (m *Maintenance) create(ctx context.Context, prio int32, conds []types.RuleCondition, acts []types.Action, tags []types.Tag) error {
	_, err := m.API.CreateRule(ctx, &elbv2.CreateRuleInput{
		ListenerArn: aws.String(m.Settings.ListenerARN), Priority: aws.Int32(prio),
		Conditions: conds, Actions: acts, Tags: tags,
	})
	return explain(m.Settings, "create maintenance rule", err)
}

func (m *Maintenance) update(ctx context.Context, page *types.Rule, st provider.MaintenanceState) error {
	if _, err := m.API.ModifyRule(ctx, &elbv2.ModifyRuleInput{RuleArn: page.RuleArn, Actions: []types.Action{pageAction(st)}}); err != nil {
		return explain(m.Settings, "update maintenance rule", err)
	}
	_, err := m.API.AddTags(ctx, &elbv2.AddTagsInput{ResourceArns: []string{aws.ToString(page.RuleArn)}, Tags: encodeState(st)})
	return explain(m.Settings, "tag maintenance rule", err)
}

// trafficMatch returns the traffic rule's conditions (the requests the page
// must catch) and actions (what allow-listed clients keep getting).
func (m *Maintenance) trafficMatch(l *listener) ([]types.RuleCondition, []types.Action, error) {
	for _, r := range l.rules {
		if m.Settings.RuleARN == "" && aws.ToBool(r.IsDefault) {
			return []types.RuleCondition{{Field: aws.String("path-pattern"), PathPatternConfig: &types.PathPatternConditionConfig{Values: []string{"*"}}}}, resendable(r.Actions), nil
		}
		if m.Settings.RuleARN != "" && aws.ToString(r.RuleArn) == m.Settings.RuleARN {
			return resendable(r.Conditions), resendable(r.Actions), nil
		}
	}
	return nil, nil, fmt.Errorf("%s is not on listener %s: check traffic.aws-alb.rule_arn and listener_arn", m.where(), m.Settings.ListenerARN)
}

// priorities picks the page rule's priority (kept when it exists) and the
// allow rule's, both above (numerically below) every other rule.
func (m *Maintenance) priorities(l *listener, allow bool) (page, allowP int32, err error) {
	lowest, holder := int32(50001), ""
	for _, r := range l.rules {
		p, err := strconv.Atoi(aws.ToString(r.Priority))
		if err != nil || r.RuleArn == nil || (l.page != nil && *r.RuleArn == *l.page.RuleArn) || (l.allow != nil && *r.RuleArn == *l.allow.RuleArn) {
			continue // the default rule, or ours
		}
		if int32(p) < lowest {
			lowest, holder = int32(p), aws.ToString(r.RuleArn)
		}
	}
	page = min(2, lowest-1)
	if l.page != nil {
		p, _ := strconv.Atoi(aws.ToString(l.page.Priority))
		page = int32(p)
	}
	if page < 1 || (allow && page < 2) {
		return 0, 0, fmt.Errorf("rule %s has priority %d, so the maintenance rule%s cannot come before it: move it down (aws elbv2 set-rule-priorities) and run again", holder, lowest, map[bool]string{true: " and its allow-list rule", false: ""}[allow])
	}
	return page, 1, nil
}

// verify reads the listener until it reports st.
func (m *Maintenance) verify(ctx context.Context, st provider.MaintenanceState) error {
	got, err := m.Maintenance(ctx)
	if err != nil {
		return err
	}
	if got.On != st.On {
		return fmt.Errorf("the listener does not report maintenance %v after the change: check its rules with aws elbv2 describe-rules", map[bool]string{true: "on", false: "off"}[st.On])
	}
	return nil
}
