package alb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/deployctl/deployctl/pkg/provider"
)

// Router shifts traffic by the weights of the forward action of one rule,
// or of the listener's default actions when Settings.RuleARN is empty.
// Everything else of the rule (conditions, other actions, stickiness, other
// target groups' absence) stays as it is.
type Router struct {
	API      TrafficAPI
	Settings Settings
	// ReadBack bounds the reads after a change until the load balancer
	// reports the new weights, ReadBackDelay apart.
	ReadBack      int
	ReadBackDelay time.Duration
}

var _ provider.TrafficRouter = (*Router)(nil)

func (r *Router) where() string {
	if r.Settings.RuleARN == "" {
		return "the default action of listener " + r.Settings.ListenerARN
	}
	return "rule " + r.Settings.RuleARN
}

// actions reads the managed rule's actions (or the listener's default ones).
func (r *Router) actions(ctx context.Context) ([]types.Action, error) {
	if r.Settings.RuleARN == "" {
		out, err := r.API.DescribeListeners(ctx, &elbv2.DescribeListenersInput{ListenerArns: []string{r.Settings.ListenerARN}})
		if err != nil {
			return nil, explain(r.Settings, "describe listener", err)
		}
		if len(out.Listeners) != 1 {
			return nil, fmt.Errorf("listener %s not found: check traffic.aws-alb.listener_arn", r.Settings.ListenerARN)
		}
		return out.Listeners[0].DefaultActions, nil
	}
	out, err := r.API.DescribeRules(ctx, &elbv2.DescribeRulesInput{RuleArns: []string{r.Settings.RuleARN}})
	if err != nil {
		return nil, explain(r.Settings, "describe rule", err)
	}
	if len(out.Rules) != 1 {
		return nil, fmt.Errorf("rule %s not found: check traffic.aws-alb.rule_arn", r.Settings.RuleARN)
	}
	return out.Rules[0].Actions, nil
}

// putActions writes the actions back whole: ModifyRule and ModifyListener
// replace the action list, and leave the conditions alone when none are sent.
func (r *Router) putActions(ctx context.Context, acts []types.Action) error {
	if r.Settings.RuleARN == "" {
		_, err := r.API.ModifyListener(ctx, &elbv2.ModifyListenerInput{ListenerArn: aws.String(r.Settings.ListenerARN), DefaultActions: acts})
		return explain(r.Settings, "modify listener", err)
	}
	_, err := r.API.ModifyRule(ctx, &elbv2.ModifyRuleInput{RuleArn: aws.String(r.Settings.RuleARN), Actions: acts})
	return explain(r.Settings, "modify rule", err)
}

// forward returns the index of the one forward action.
func (r *Router) forward(acts []types.Action) (int, error) {
	for i, a := range acts {
		if a.Type == types.ActionTypeEnumForward {
			return i, nil
		}
	}
	return -1, fmt.Errorf("%s has no forward action (it has %s): point traffic.aws-alb at the rule that forwards to the slots", r.where(), actionTypes(acts))
}

func actionTypes(acts []types.Action) string {
	var ts []string
	for _, a := range acts {
		ts = append(ts, string(a.Type))
	}
	if len(ts) == 0 {
		return "none"
	}
	return strings.Join(ts, ", ")
}

// raw reads the weights of the forward action by target group ARN.
func raw(a types.Action) map[string]int32 {
	w := map[string]int32{}
	if a.ForwardConfig != nil && len(a.ForwardConfig.TargetGroups) > 0 {
		for _, tg := range a.ForwardConfig.TargetGroups {
			w[aws.ToString(tg.TargetGroupArn)] = aws.ToInt32(tg.Weight)
		}
		if len(w) == 1 {
			for k := range w {
				w[k] = 1 // one target group gets everything, whatever its weight
			}
		}
		return w
	}
	if a.TargetGroupArn != nil {
		w[*a.TargetGroupArn] = 1
	}
	return w
}

func (r *Router) weightsOf(acts []types.Action) (provider.Weights, error) {
	i, err := r.forward(acts)
	if err != nil {
		return nil, err
	}
	byARN := raw(acts[i])
	var blue, green int32
	for arn, w := range byARN {
		switch arn {
		case r.Settings.Slots.Blue.TargetGroupARN:
			blue = w
		case r.Settings.Slots.Green.TargetGroupARN:
			green = w
		default:
			return nil, fmt.Errorf("%s forwards to target group %s, which is neither slot: fix traffic.aws-alb.slots or the rule", r.where(), arn)
		}
	}
	if blue+green == 0 {
		return nil, fmt.Errorf("%s forwards nothing to the slots (all weights 0)", r.where())
	}
	b := int((200*int64(blue) + int64(blue+green)) / (2 * int64(blue+green))) // rounded percent
	return provider.Weights{provider.Blue: b, provider.Green: 100 - b}, nil
}

// Weights returns the weights the load balancer reports, in percent.
func (r *Router) Weights(ctx context.Context) (provider.Weights, error) {
	acts, err := r.actions(ctx)
	if err != nil {
		return nil, err
	}
	return r.weightsOf(acts)
}

// SetWeights rewrites the forward action's target groups (keeping its
// stickiness and every other action) and returns once the load balancer
// reports the new weights.
func (r *Router) SetWeights(ctx context.Context, w provider.Weights) error {
	if err := w.Validate(); err != nil {
		return err
	}
	acts, err := r.actions(ctx)
	if err != nil {
		return err
	}
	i, err := r.forward(acts)
	if err != nil {
		return err
	}
	acts = resendable(acts) // an OIDC action keeps its secret by UseExistingClientSecret
	fwd := acts[i]
	fc := &types.ForwardActionConfig{}
	if fwd.ForwardConfig != nil {
		fc.TargetGroupStickinessConfig = fwd.ForwardConfig.TargetGroupStickinessConfig
	}
	for _, s := range provider.Slots {
		fc.TargetGroups = append(fc.TargetGroups, types.TargetGroupTuple{TargetGroupArn: aws.String(r.Settings.TargetGroup(s)), Weight: aws.Int32(int32(w[s]))})
	}
	fwd.ForwardConfig, fwd.TargetGroupArn = fc, nil // both at once is refused with two groups
	acts[i] = fwd
	if err := r.putActions(ctx, acts); err != nil {
		return err
	}
	return r.readBack(ctx, w)
}

func (r *Router) readBack(ctx context.Context, want provider.Weights) error {
	var got provider.Weights
	err := r.until(ctx, func() (bool, error) {
		var err error
		got, err = r.Weights(ctx)
		return err == nil && got[provider.Blue] == want[provider.Blue] && got[provider.Green] == want[provider.Green], err
	})
	if err == errStale {
		return fmt.Errorf("%s was modified but still reports %v instead of %v after %d reads: check it with aws elbv2 describe-rules and run the command again", r.where(), got, want, r.ReadBack+1)
	}
	return err
}

var errStale = errors.New("the load balancer still reports the old state")

// until reads with done up to ReadBack+1 times, ReadBackDelay apart, until
// it reports true: ELBv2 is eventually consistent, a read right after a
// write may return the state before it. It returns errStale when the reads
// run out.
func (r *Router) until(ctx context.Context, done func() (bool, error)) error {
	for n := 0; ; n++ {
		ok, err := done()
		if err != nil || ok {
			return err
		}
		if n >= r.ReadBack {
			return errStale
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(r.ReadBackDelay):
		}
	}
}

// Slot reports the health of the slot's target group: ready when at least
// one target is healthy and every other one is healthy or draining (a
// target still "initial" would get traffic before it passed a check).
func (r *Router) Slot(ctx context.Context, s provider.Slot) (provider.SlotStatus, error) {
	arn := r.Settings.TargetGroup(s)
	out, err := r.API.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(arn)})
	if err != nil {
		return provider.SlotStatus{}, explain(r.Settings, "describe target health of "+string(s), err)
	}
	counts := map[string]int{}
	reasons := map[string]bool{}
	total := 0
	for _, d := range out.TargetHealthDescriptions {
		if d.TargetHealth == nil {
			continue
		}
		total++
		counts[string(d.TargetHealth.State)]++
		if d.TargetHealth.State != types.TargetHealthStateEnumHealthy && d.TargetHealth.Reason != "" {
			reasons[string(d.TargetHealth.Reason)] = true
		}
	}
	ok := counts["healthy"] + counts["draining"]
	st := provider.SlotStatus{Slot: s, Ready: counts["healthy"] > 0 && ok == total, Detail: healthDetail(counts, reasons), Version: targetsVersion(out.TargetHealthDescriptions)}
	if total > 0 && counts["unused"] == total && reasons[string(types.TargetHealthReasonEnumNotInUse)] {
		st.Detail = fmt.Sprintf("target group %s is attached to no listener rule; attach it at weight 0 to %s (or its targets are in Availability Zones the load balancer does not use): %s", arn, r.where(), st.Detail)
	}
	return st, nil
}

// targetsVersion is what a target group runs, as far as the load balancer
// can tell: its registered targets (id:port), leaving out those being
// deregistered. ALB cannot ask a target which version it serves, but a
// deployment registers new targets (tasks, instances, a Lambda version's
// ARN), so the same targets are the same release: `rollback` returns to a
// target group only while it still has the targets of the release it
// returns to. More than three are shown as the first three, the count and
// a hash of them all. No target: "" (unknown).
func targetsVersion(ds []types.TargetHealthDescription) string {
	var ids []string
	for _, d := range ds {
		if d.Target == nil || d.Target.Id == nil {
			continue
		}
		if d.TargetHealth != nil && (d.TargetHealth.State == types.TargetHealthStateEnumDraining || d.TargetHealth.State == types.TargetHealthStateEnumUnhealthyDraining) {
			continue
		}
		id := aws.ToString(d.Target.Id)
		if d.Target.Port != nil {
			id += ":" + strconv.Itoa(int(*d.Target.Port))
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return ""
	}
	sort.Strings(ids)
	const shown = 3
	if len(ids) <= shown {
		return "targets " + strings.Join(ids, ", ")
	}
	sum := sha256.Sum256([]byte(strings.Join(ids, "\n")))
	return fmt.Sprintf("targets %s +%d more (sha256 %s)", strings.Join(ids[:shown], ", "), len(ids)-shown, hex.EncodeToString(sum[:4]))
}

func healthDetail(counts map[string]int, reasons map[string]bool) string {
	if len(counts) == 0 {
		return "no targets registered in the target group"
	}
	var parts []string
	for _, state := range []string{"healthy", "unhealthy", "initial", "draining", "unhealthy.draining", "unused", "unavailable"} {
		if n := counts[state]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, state))
		}
	}
	d := strings.Join(parts, ", ")
	if len(reasons) > 0 {
		var rs []string
		for k := range reasons {
			rs = append(rs, k)
		}
		sort.Strings(rs)
		d += " (" + strings.Join(rs, ", ") + ")"
	}
	return d
}
