// Package alb is the aws family's TrafficRouter and MaintenanceSwitch on an
// Application Load Balancer: one listener rule (or the listener's default
// action) forwards to the blue and green target groups with weights;
// maintenance is a fixed-response rule placed above every other rule.
package alb

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/aws/awsconf"
)

// Settings is the traffic.aws-alb section.
type Settings struct {
	Region      string `mapstructure:"region"`
	Endpoint    string `mapstructure:"endpoint"`
	ListenerARN string `mapstructure:"listener_arn"`
	RuleARN     string `mapstructure:"rule_arn"` // empty: the listener's default action
	// Hosts scope the maintenance rules of a default action to the
	// environment's host names (host-header values).
	Hosts []string `mapstructure:"hosts"`
	// CallTimeout bounds each API call, retries included; zero means
	// DefaultCallTimeout.
	CallTimeout time.Duration `mapstructure:"call_timeout"`
	// PassPaths keep reaching the application during maintenance; nil means
	// DefaultPassPaths, an empty list none.
	PassPaths []string `mapstructure:"pass_paths"`
	Slots     struct {
		Blue  SlotSettings `mapstructure:"blue"`
		Green SlotSettings `mapstructure:"green"`
	} `mapstructure:"slots"`
}

// SlotSettings names one slot's target group.
type SlotSettings struct {
	TargetGroupARN string `mapstructure:"target_group_arn"`
}

func (s Settings) passPaths() []string {
	if s.PassPaths == nil {
		return DefaultPassPaths
	}
	return s.PassPaths
}

// TargetGroup returns the target group ARN of slot s.
func (s Settings) TargetGroup(slot provider.Slot) string {
	if slot == provider.Green {
		return s.Slots.Green.TargetGroupARN
	}
	return s.Slots.Blue.TargetGroupARN
}

func (s Settings) validate() error {
	switch {
	case s.ListenerARN == "":
		return errors.New("traffic.aws-alb.listener_arn is empty: set the ARN of the load balancer's listener (aws elbv2 describe-listeners --load-balancer-arn …)")
	case s.Slots.Blue.TargetGroupARN == "" || s.Slots.Green.TargetGroupARN == "":
		return errors.New("traffic.aws-alb.slots.blue/green.target_group_arn: set both target groups (aws elbv2 describe-target-groups)")
	case s.Slots.Blue.TargetGroupARN == s.Slots.Green.TargetGroupARN:
		return errors.New("traffic.aws-alb.slots: blue and green name the same target group; each slot needs its own")
	}
	return nil
}

// The calls this package makes, one interface each, so that a reader sees
// exactly what the IAM policy must allow. *elbv2.Client has them all.
type (
	describeRules interface {
		DescribeRules(context.Context, *elbv2.DescribeRulesInput, ...func(*elbv2.Options)) (*elbv2.DescribeRulesOutput, error)
	}
	describeListeners interface {
		DescribeListeners(context.Context, *elbv2.DescribeListenersInput, ...func(*elbv2.Options)) (*elbv2.DescribeListenersOutput, error)
	}
	modifyRule interface {
		ModifyRule(context.Context, *elbv2.ModifyRuleInput, ...func(*elbv2.Options)) (*elbv2.ModifyRuleOutput, error)
	}
	modifyListener interface {
		ModifyListener(context.Context, *elbv2.ModifyListenerInput, ...func(*elbv2.Options)) (*elbv2.ModifyListenerOutput, error)
	}
	describeTargetHealth interface {
		DescribeTargetHealth(context.Context, *elbv2.DescribeTargetHealthInput, ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error)
	}
	createRule interface {
		CreateRule(context.Context, *elbv2.CreateRuleInput, ...func(*elbv2.Options)) (*elbv2.CreateRuleOutput, error)
	}
	deleteRule interface {
		DeleteRule(context.Context, *elbv2.DeleteRuleInput, ...func(*elbv2.Options)) (*elbv2.DeleteRuleOutput, error)
	}
	describeTags interface {
		DescribeTags(context.Context, *elbv2.DescribeTagsInput, ...func(*elbv2.Options)) (*elbv2.DescribeTagsOutput, error)
	}
	addTags interface {
		AddTags(context.Context, *elbv2.AddTagsInput, ...func(*elbv2.Options)) (*elbv2.AddTagsOutput, error)
	}
)

// TrafficAPI is what the Router calls.
type TrafficAPI interface {
	describeRules
	describeListeners
	modifyRule
	modifyListener
	describeTargetHealth
}

// MaintenanceAPI is what the Maintenance switch calls on top.
type MaintenanceAPI interface {
	TrafficAPI
	createRule
	deleteRule
	describeTags
	addTags
}

// DefaultCallTimeout bounds one ELBv2 call, its retries included, when
// traffic.aws-alb.call_timeout is not set.
const DefaultCallTimeout = 30 * time.Second

// NewClient builds the ELBv2 client from awsconf.Load; opts run after the
// endpoint and deadline settings, so tests can replace anything.
func NewClient(ctx context.Context, s Settings, opts ...func(*elbv2.Options)) (*elbv2.Client, error) {
	cfg, err := awsconf.Load(ctx, s.Region, "traffic.aws-alb.region")
	if err != nil {
		return nil, err
	}
	d := s.CallTimeout
	if d <= 0 {
		d = DefaultCallTimeout
	}
	return elbv2.NewFromConfig(cfg, append([]func(*elbv2.Options){func(o *elbv2.Options) {
		if s.Endpoint != "" {
			o.BaseEndpoint = aws.String(s.Endpoint)
		}
		o.APIOptions = append(o.APIOptions, awsconf.CallDeadline(d))
	}}, opts...)...), nil
}

// New returns the router and maintenance switch over one client.
func New(ctx context.Context, env provider.Env, s Settings, opts ...func(*elbv2.Options)) (*Maintenance, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	c, err := NewClient(ctx, s, opts...)
	if err != nil {
		return nil, err
	}
	// The region may have come from AWS_REGION or the profile; errors name it.
	s.Region = c.Options().Region
	r := &Router{API: c, Settings: s, ReadBack: 20, ReadBackDelay: 250 * time.Millisecond}
	return &Maintenance{Router: r, API: c, Env: env.Name, Notef: env.Notef}, nil
}

func open(ctx context.Context, env provider.Env, d provider.Decode) (*Maintenance, error) {
	var s Settings
	if err := d(&s); err != nil {
		return nil, err
	}
	return New(ctx, env, s)
}

// NewTraffic is the family's Traffic constructor: the Maintenance switch,
// whose SetWeights also keeps its exception rules in step.
func NewTraffic(ctx context.Context, env provider.Env, d provider.Decode) (provider.TrafficRouter, error) {
	return open(ctx, env, d)
}

// NewMaintenance is the family's Maintenance constructor.
func NewMaintenance(ctx context.Context, env provider.Env, d provider.Decode) (provider.MaintenanceSwitch, error) {
	return open(ctx, env, d)
}
