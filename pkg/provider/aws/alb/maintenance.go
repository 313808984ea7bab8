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
// listener, matching the requests the traffic rule matches (for a default
// action: the requests for traffic.aws-alb.hosts). ALB conditions
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
	// Notef shows a note to the operator; nil drops notes.
	Notef func(format string, a ...any)
}

var _ provider.MaintenanceSwitch = (*Maintenance)(nil)

const (
	tagRole   = "deployctl:maintenance" // "page", "pass" or "allow"
	tagEnv    = "deployctl:env"
	rolePage  = "page"
	rolePass  = "pass"
	roleAllow = "allow"
	// maxValues is ALB's quota "condition values per rule" (not adjustable).
	maxValues = 5
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

// exception is a rule that lets some requests through to the application;
// fix says how to make it fit the limits.
type exception struct {
	role, fix string
	cond      types.RuleCondition
}

func (m *Maintenance) exceptions(st provider.MaintenanceState) []exception {
	var out []exception
	if paths := m.Settings.passPaths(); len(paths) > 0 {
		out = append(out, exception{rolePass, "set fewer traffic.aws-alb.pass_paths", types.RuleCondition{Field: aws.String("path-pattern"), PathPatternConfig: &types.PathPatternConditionConfig{Values: paths}}})
	}
	if len(st.Allow) > 0 {
		out = append(out, exception{roleAllow, "allow fewer source CIDRs (merge them into wider ranges)", types.RuleCondition{Field: aws.String("source-ip"), SourceIpConfig: &types.SourceIpConditionConfig{Values: st.Allow}}})
	}
	return out
}

// planned is one rule SetMaintenance will create.
type planned struct {
	role       string
	prio       int32
	conds      []types.RuleCondition
	acts       []types.Action
	transforms []types.RuleTransform
	tags       []types.Tag
}

// plan returns the exception rules (and the page rule, unless it exists)
// after checking every limit the load balancer would refuse them for, so
// that a refused plan writes nothing.
func (m *Maintenance) plan(l *listener, st provider.MaintenanceState) (page *planned, exc []planned, err error) {
	tm, err := m.trafficMatch(l)
	if err != nil {
		return nil, nil, err
	}
	es := m.exceptions(st)
	pagePrio, err := m.priorities(l, len(es))
	if err != nil {
		return nil, nil, err
	}
	if len(es) > 0 && hasOIDC(tm.acts) {
		return nil, nil, fmt.Errorf("%s authenticates with authenticate-oidc, and ELBv2 never returns the client secret that a new rule copying it needs, so deployctl cannot create the maintenance exception rules (health paths, allow-list): set traffic.aws-alb.pass_paths: [] and use no allow-list (maintenance.allow, --allow), so that maintenance is the page alone", m.where())
	}
	if l.page == nil {
		page = &planned{role: rolePage, prio: pagePrio, conds: tm.conds, acts: []types.Action{pageAction(st)}, tags: append(m.tags(rolePage), encodeState(st)...)}
		if err := checkValues(page, "set fewer traffic.aws-alb.hosts"); err != nil {
			return nil, nil, err
		}
	}
	for i, e := range es {
		p := planned{role: e.role, prio: int32(i + 1), conds: replaceCondition(tm.conds, e.cond), acts: tm.acts, transforms: tm.transforms, tags: m.tags(e.role)}
		if err := checkValues(&p, e.fix); err != nil {
			return nil, nil, err
		}
		exc = append(exc, p)
	}
	return page, exc, nil
}

func checkValues(p *planned, fix string) error {
	if n, parts := conditionValues(p.conds); n > maxValues {
		return fmt.Errorf("the maintenance %s rule would have %d condition values (%s), and ALB allows at most %d per rule: %s; nothing was changed", p.role, n, parts, maxValues, fix)
	}
	return nil
}

func (m *Maintenance) on(ctx context.Context, l *listener, st provider.MaintenanceState) error {
	page, exc, err := m.plan(l, st)
	if err != nil {
		return err
	}
	// The exception rules are re-created: the allow-list may have changed.
	// Until then the page answers everybody, never the other way round.
	var created []*string
	undo := func(err error) error { return m.undo(ctx, created, l.page != nil, err) }
	if page != nil {
		arn, err := m.create(ctx, *page)
		if err != nil {
			return err
		}
		created = append(created, arn)
	} else if err := m.update(ctx, l.page, st); err != nil {
		return err
	}
	for _, r := range l.exceptions {
		if err := m.delete(ctx, r); err != nil {
			return undo(err)
		}
	}
	for _, p := range exc {
		arn, err := m.create(ctx, p)
		if err != nil {
			return undo(err)
		}
		created = append(created, arn)
	}
	return nil
}

// undo deletes the rules this call created, newest first, and says what
// state the listener is left in.
func (m *Maintenance) undo(ctx context.Context, created []*string, wasOn bool, cause error) error {
	for i := len(created) - 1; i >= 0; i-- {
		if err := m.delete(ctx, &types.Rule{RuleArn: created[i]}); err != nil {
			return fmt.Errorf("%w; undoing it failed too (%v): delete deployctl's rules by hand (tag %s=%s) or run maintenance off", cause, err, tagEnv, m.Env)
		}
	}
	if wasOn {
		return fmt.Errorf("%w; the new exception rules were undone: maintenance stays on with the new page but without its exception rules: fix the cause and run maintenance on again", cause)
	}
	return fmt.Errorf("%w; the rules written so far were undone, maintenance stays off", cause)
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

func (m *Maintenance) create(ctx context.Context, p planned) (*string, error) {
	out, err := m.API.CreateRule(ctx, &elbv2.CreateRuleInput{
		ListenerArn: aws.String(m.Settings.ListenerARN), Priority: aws.Int32(p.prio),
		Conditions: p.conds, Actions: p.acts, Transforms: p.transforms, Tags: p.tags,
	})
	if err != nil {
		return nil, explain(m.Settings, "create maintenance "+p.role+" rule", err)
	}
	if len(out.Rules) != 1 {
		return nil, fmt.Errorf("create maintenance %s rule: the load balancer answered with %d rules", p.role, len(out.Rules))
	}
	return out.Rules[0].RuleArn, nil
}

func (m *Maintenance) update(ctx context.Context, page *types.Rule, st provider.MaintenanceState) error {
	if _, err := m.API.ModifyRule(ctx, &elbv2.ModifyRuleInput{RuleArn: page.RuleArn, Actions: []types.Action{pageAction(st)}}); err != nil {
		return explain(m.Settings, "update maintenance rule", err)
	}
	_, err := m.API.AddTags(ctx, &elbv2.AddTagsInput{ResourceArns: []string{aws.ToString(page.RuleArn)}, Tags: encodeState(st)})
	return explain(m.Settings, "tag maintenance rule", err)
}

// match is what the maintenance rules copy from the traffic rule.
type match struct {
	conds      []types.RuleCondition // the requests the page must catch
	acts       []types.Action        // what the exceptions keep getting
	transforms []types.RuleTransform
}

// trafficMatch returns the traffic rule's conditions, actions and
// transforms. A listener's default action has no conditions: the page
// catches traffic.aws-alb.hosts, or, without them, every request that no
// rule before it takes (with a note: on a shared listener that is every
// host's).
func (m *Maintenance) trafficMatch(l *listener) (match, error) {
	for _, r := range l.rules {
		if m.Settings.RuleARN == "" && aws.ToBool(r.IsDefault) {
			return match{conds: m.defaultConds(), acts: resendable(r.Actions)}, nil
		}
		if m.Settings.RuleARN != "" && aws.ToString(r.RuleArn) == m.Settings.RuleARN {
			return match{conds: resendable(r.Conditions), acts: resendable(r.Actions), transforms: r.Transforms}, nil
		}
	}
	return match{}, fmt.Errorf("%s is not on listener %s: check traffic.aws-alb.rule_arn and listener_arn", m.where(), m.Settings.ListenerARN)
}

func (m *Maintenance) defaultConds() []types.RuleCondition {
	if len(m.Settings.Hosts) > 0 {
		return []types.RuleCondition{{Field: aws.String("host-header"), HostHeaderConfig: &types.HostHeaderConditionConfig{Values: m.Settings.Hosts}}}
	}
	m.notef("traffic.aws-alb.hosts is not set: the maintenance page on %s catches every host on the listener (and its health pass rule sends every host's health paths to the slots); set traffic.aws-alb.hosts to the environment's host names", m.where())
	return []types.RuleCondition{{Field: aws.String("path-pattern"), PathPatternConfig: &types.PathPatternConditionConfig{Values: []string{"*"}}}}
}

func (m *Maintenance) notef(format string, a ...any) {
	if m.Notef != nil {
		m.Notef(format, a...)
	}
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
	tm, err := m.trafficMatch(l)
	if err != nil {
		return err
	}
	for _, r := range l.exceptions {
		if _, err := m.API.ModifyRule(ctx, &elbv2.ModifyRuleInput{RuleArn: r.RuleArn, Actions: tm.acts}); err != nil {
			return explain(m.Settings, "update the maintenance exception rules to the new weights", err)
		}
	}
	return nil
}

// verify reads the listener until it reports st (bounded like the
// Router's read-back).
func (m *Maintenance) verify(ctx context.Context, st provider.MaintenanceState) error {
	want := decodeState(tagMap(encodeState(st)))
	err := m.until(ctx, func() (bool, error) {
		got, err := m.Maintenance(ctx)
		if err != nil {
			return false, err
		}
		return got.On == st.On && (!st.On || got.Message == want.Message && got.By == want.By && got.Until.Equal(want.Until)), nil
	})
	if err == errStale {
		return fmt.Errorf("the listener does not report maintenance %s after the change after %d reads: check its rules with aws elbv2 describe-rules and run the command again", map[bool]string{true: "on", false: "off"}[st.On], m.ReadBack+1)
	}
	return err
}
