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
// listener, matching the requests the traffic rule matches. ALB conditions
// cannot exclude requests, so what must keep flowing gets exception rules
// one priority higher still, copies of the traffic rule's actions: the
// health paths (PassPaths), so that outside monitors and DNS failover do not
// see an outage, and the allow-listed source CIDRs. All of them carry tags
// that name them deployctl's, and the page rule's tags hold the switch's
// state, so any machine can tell and undo it.
type Maintenance struct {
	*Router
	API MaintenanceAPI
	Env string
}

var _ provider.MaintenanceSwitch = (*Maintenance)(nil)

const (
	tagRole    = "deployctl:maintenance" // "page", "pass" or "allow"
	tagEnv     = "deployctl:env"
	rolePage   = "page"
	rolePass   = "pass"
	roleAllow  = "allow"
	maxAllowed = 4 // ALB allows 5 condition values per rule; one is left for the copied conditions
	// pagePriority leaves priorities 1 and 2 for the exception rules.
	pagePriority = 3
)

// DefaultPassPaths are the health paths that keep answering during
// maintenance when traffic.aws-alb.pass_paths is not set.
var DefaultPassPaths = []string{"/health", "/health/readiness"}

// listener is the listener's rules and which of them are deployctl's.
type listener struct {
	rules      []types.Rule
	page       *types.Rule
	exceptions []*types.Rule // pass and allow rules
	pageTags   map[string]string
}

func (l *listener) ours(arn *string) bool {
	for _, r := range append([]*types.Rule{l.page}, l.exceptions...) {
		if r != nil && arn != nil && aws.ToString(r.RuleArn) == *arn {
			return true
		}
	}
	return false
}

func (m *Maintenance) load(ctx context.Context) (*listener, error) {
	l := &listener{}
	in := &elbv2.DescribeRulesInput{ListenerArn: aws.String(m.Settings.ListenerARN), PageSize: aws.Int32(400)}
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
			case rolePass, roleAllow:
				l.exceptions = append(l.exceptions, r)
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
	for _, r := range append([]*types.Rule{l.page}, l.exceptions...) {
		if err := m.delete(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

func (m *Maintenance) delete(ctx context.Context, r *types.Rule) error {
	if r == nil {
		return nil
	}
	if _, err := m.API.DeleteRule(ctx, &elbv2.DeleteRuleInput{RuleArn: r.RuleArn}); err != nil && !isCode(err, "RuleNotFound") {
		return explain(m.Settings, "delete maintenance rule", err)
	}
	return nil
}

// exception is a rule that lets some requests through to the application.
type exception struct {
	role string
	cond types.RuleCondition
}

func (m *Maintenance) exceptions(st provider.MaintenanceState) []exception {
	var out []exception
	if paths := m.Settings.passPaths(); len(paths) > 0 {
		out = append(out, exception{rolePass, types.RuleCondition{Field: aws.String("path-pattern"), PathPatternConfig: &types.PathPatternConditionConfig{Values: paths}}})
	}
	if len(st.Allow) > 0 {
		out = append(out, exception{roleAllow, types.RuleCondition{Field: aws.String("source-ip"), SourceIpConfig: &types.SourceIpConditionConfig{Values: st.Allow}}})
	}
	return out
}

func (m *Maintenance) on(ctx context.Context, l *listener, st provider.MaintenanceState) error {
	conds, acts, err := m.trafficMatch(l)
	if err != nil {
		return err
	}
	exc := m.exceptions(st)
	pagePrio, err := m.priorities(l, len(exc))
	if err != nil {
		return err
	}
	// The exception rules are re-created: the allow-list may have changed.
	// Until then the page answers everybody, never the other way round.
	if l.page == nil {
		tags := append(m.tags(rolePage), encodeState(st)...)
		if err := m.create(ctx, pagePrio, conds, []types.Action{pageAction(st)}, tags); err != nil {
			return err
		}
	} else if err := m.update(ctx, l.page, st); err != nil {
		return err
	}
	for _, r := range l.exceptions {
		if err := m.delete(ctx, r); err != nil {
			return err
		}
	}
	for i, e := range exc {
		c := replaceCondition(conds, e.cond)
		if err := m.create(ctx, int32(i+1), c, acts, m.tags(e.role)); err != nil {
			return err
		}
	}
	return nil
}

// replaceCondition returns conds with c in place of a condition on the same
// field: ALB takes at most one path-pattern or source-ip condition per rule.
func replaceCondition(conds []types.RuleCondition, c types.RuleCondition) []types.RuleCondition {
	out := []types.RuleCondition{}
	for _, x := range conds {
		if aws.ToString(x.Field) != aws.ToString(c.Field) {
			out = append(out, x)
		}
	}
	return append(out, c)
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

// priorities returns the page rule's priority (kept when it exists, else
// pagePriority) after checking that it and the n exception rules (1…n) come
// before (numerically below) every rule that is not deployctl's.
func (m *Maintenance) priorities(l *listener, n int) (int32, error) {
	lowest, holder := int32(50001), ""
	for _, r := range l.rules {
		p, err := strconv.Atoi(aws.ToString(r.Priority))
		if err != nil || l.ours(r.RuleArn) {
			continue // the default rule, or ours
		}
		if int32(p) < lowest {
			lowest, holder = int32(p), aws.ToString(r.RuleArn)
		}
	}
	page := min(pagePriority, lowest-1)
	if l.page != nil {
		p, _ := strconv.Atoi(aws.ToString(l.page.Priority))
		page = int32(p)
	}
	if page < 1 || page <= int32(n) {
		return 0, fmt.Errorf("rule %s has priority %d, so the maintenance rule and its %d exception rule(s) (health paths, allow-list) cannot all come before it: move it below %d (aws elbv2 set-rule-priorities) and run again", holder, lowest, n, n+1)
	}
	return page, nil
}

// SetWeights shifts traffic like Router.SetWeights and then gives
// deployctl's exception rules (health paths, allow-list), if maintenance is
// on, the traffic rule's new actions: they keep following the rollout.
func (m *Maintenance) SetWeights(ctx context.Context, w provider.Weights) error {
	if err := m.Router.SetWeights(ctx, w); err != nil {
		return err
	}
	l, err := m.load(ctx)
	if err != nil || len(l.exceptions) == 0 {
		return err
	}
	_, acts, err := m.trafficMatch(l)
	if err != nil {
		return err
	}
	for _, r := range l.exceptions {
		if _, err := m.API.ModifyRule(ctx, &elbv2.ModifyRuleInput{RuleArn: r.RuleArn, Actions: acts}); err != nil {
			return explain(m.Settings, "update the maintenance exception rules to the new weights", err)
		}
	}
	return nil
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
