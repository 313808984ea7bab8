// Package route53 is the dns.Failover of Amazon Route 53: the failover
// record set (a PRIMARY and a SECONDARY record of one name and type) of a
// hosted zone, the status of their health checks, atomic change batches
// and their propagation (GetChange: PENDING, then INSYNC).
package route53

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53 "github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/deployctl/deployctl/pkg/dns"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/aws/awsconf"
)

// Settings is the dns.route53 section.
type Settings struct {
	// Region only picks the SDK's configuration: Route 53 is global and
	// signed for us-east-1. Empty: the SDK's chain, else us-east-1.
	Region       string `mapstructure:"region"`
	Endpoint     string `mapstructure:"endpoint"`
	HostedZoneID string `mapstructure:"hosted_zone_id"`
	Record       string `mapstructure:"record"` // api.example.com
	Type         string `mapstructure:"type"`   // A (default), AAAA or CNAME
	// CallTimeout bounds each API call, retries included; zero: DefaultCallTimeout.
	CallTimeout time.Duration `mapstructure:"call_timeout"`
}

// DefaultCallTimeout bounds one Route 53 call, its retries included.
const DefaultCallTimeout = 30 * time.Second

func (s Settings) validate() error {
	switch {
	case s.HostedZoneID == "":
		return &provider.ConfigError{Msg: "dns.route53.hosted_zone_id is empty: set the id of the hosted zone that holds the failover records (aws route53 list-hosted-zones-by-name --dns-name example.com)"}
	case s.Record == "":
		return &provider.ConfigError{Msg: "dns.route53.record is empty: set the name of the failover record set, e.g. api.example.com"}
	case s.Type != "A" && s.Type != "AAAA" && s.Type != "CNAME":
		return &provider.ConfigError{Msg: fmt.Sprintf("dns.route53.type %q: want A, AAAA or CNAME", s.Type)}
	}
	return nil
}

// API is the calls this package makes: what the IAM policy must allow
// (route53:ListResourceRecordSets, ChangeResourceRecordSets, GetChange,
// GetHealthCheckStatus). *route53.Client has them all.
type API interface {
	ListResourceRecordSets(context.Context, *r53.ListResourceRecordSetsInput, ...func(*r53.Options)) (*r53.ListResourceRecordSetsOutput, error)
	ChangeResourceRecordSets(context.Context, *r53.ChangeResourceRecordSetsInput, ...func(*r53.Options)) (*r53.ChangeResourceRecordSetsOutput, error)
	GetChange(context.Context, *r53.GetChangeInput, ...func(*r53.Options)) (*r53.GetChangeOutput, error)
	GetHealthCheckStatus(context.Context, *r53.GetHealthCheckStatusInput, ...func(*r53.Options)) (*r53.GetHealthCheckStatusOutput, error)
}

// Failover is the record set of Settings at Route 53.
type Failover struct {
	API      API
	Settings Settings
	Env      string
}

var _ dns.Failover = (*Failover)(nil)

// NewClient builds the Route 53 client from awsconf.Load; opts run after
// the endpoint and deadline settings, so tests can replace anything.
func NewClient(ctx context.Context, s Settings, opts ...func(*r53.Options)) (*r53.Client, error) {
	region := s.Region
	if region == "" {
		region = "us-east-1" // a global service: signed for us-east-1 from anywhere
	}
	cfg, err := awsconf.Load(ctx, region, "dns.route53.region")
	if err != nil {
		return nil, err
	}
	d := s.CallTimeout
	if d <= 0 {
		d = DefaultCallTimeout
	}
	return r53.NewFromConfig(cfg, append([]func(*r53.Options){func(o *r53.Options) {
		if s.Endpoint != "" {
			o.BaseEndpoint = aws.String(s.Endpoint)
		}
		o.APIOptions = append(o.APIOptions, awsconf.CallDeadline(d))
	}}, opts...)...), nil
}

// New returns the failover record set of s for environment env.
func New(ctx context.Context, env provider.Env, s Settings, opts ...func(*r53.Options)) (*Failover, error) {
	if s.Type == "" {
		s.Type = "A"
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	s.HostedZoneID = strings.TrimPrefix(s.HostedZoneID, "/hostedzone/")
	c, err := NewClient(ctx, s, opts...)
	if err != nil {
		return nil, err
	}
	return &Failover{API: c, Settings: s, Env: env.Name}, nil
}

// Open is the constructor from the environment file's dns.route53 section.
func Open(ctx context.Context, env provider.Env, d provider.Decode) (dns.Failover, error) {
	var s Settings
	if err := d(&s); err != nil {
		return nil, err
	}
	return New(ctx, env, s)
}

// Where names the record set.
func (f *Failover) Where() dns.Where {
	return dns.Where{Provider: "Route 53", Zone: f.Settings.HostedZoneID, Name: fqdn(f.Settings.Record), Type: f.Settings.Type}
}

func fqdn(name string) string {
	name = strings.ToLower(name)
	if strings.HasSuffix(name, ".") {
		return name
	}
	return name + "."
}

// RecordSet reads the records of the name and type, page by page from the
// first of them until the listing moves past them.
func (f *Failover) RecordSet(ctx context.Context) (dns.RecordSet, error) {
	w := f.Where()
	rs := dns.RecordSet{Name: w.Name, Type: w.Type}
	in := &r53.ListResourceRecordSetsInput{HostedZoneId: aws.String(w.Zone), StartRecordName: aws.String(w.Name), StartRecordType: types.RRType(w.Type)}
	for {
		out, err := f.API.ListResourceRecordSets(ctx, in)
		if err != nil {
			return rs, f.explain("read the record set", err)
		}
		for _, r := range out.ResourceRecordSets {
			if fqdn(aws.ToString(r.Name)) != w.Name || string(r.Type) != w.Type {
				return rs, nil
			}
			rec := fromAPI(r)
			switch r.Failover {
			case types.ResourceRecordSetFailoverPrimary:
				rs.Primary = rec
			case types.ResourceRecordSetFailoverSecondary:
				rs.Secondary = rec
			default:
				return rs, fmt.Errorf("%s is not a failover record set (record %q has no Failover PRIMARY/SECONDARY): see docs/dr.md for the records deployctl dns expects", w, aws.ToString(r.SetIdentifier))
			}
		}
		if !out.IsTruncated {
			return rs, nil
		}
		in.StartRecordName, in.StartRecordType, in.StartRecordIdentifier = out.NextRecordName, out.NextRecordType, out.NextRecordIdentifier
	}
}

func fromAPI(r types.ResourceRecordSet) dns.Record {
	rec := dns.Record{Role: string(r.Failover), SetIdentifier: aws.ToString(r.SetIdentifier), HealthCheckID: aws.ToString(r.HealthCheckId)}
	if a := r.AliasTarget; a != nil {
		rec.Target.Alias = &dns.Alias{DNSName: aws.ToString(a.DNSName), HostedZoneID: aws.ToString(a.HostedZoneId), EvaluateTargetHealth: a.EvaluateTargetHealth}
		return rec
	}
	rec.Target.TTL = aws.ToInt64(r.TTL)
	for _, v := range r.ResourceRecords {
		rec.Target.Values = append(rec.Target.Values, aws.ToString(v.Value))
	}
	return rec
}

func toAPI(c dns.Change) types.ResourceRecordSet {
	r := c.Record
	out := types.ResourceRecordSet{Name: aws.String(c.Name), Type: types.RRType(c.Type), SetIdentifier: aws.String(r.SetIdentifier),
		Failover: types.ResourceRecordSetFailover(r.Role)}
	if r.HealthCheckID != "" {
		out.HealthCheckId = aws.String(r.HealthCheckID)
	}
	if a := r.Target.Alias; a != nil {
		out.AliasTarget = &types.AliasTarget{DNSName: aws.String(a.DNSName), HostedZoneId: aws.String(a.HostedZoneID), EvaluateTargetHealth: a.EvaluateTargetHealth}
		return out
	}
	out.TTL = aws.Int64(r.Target.TTL)
	for _, v := range r.Target.Values {
		out.ResourceRecords = append(out.ResourceRecords, types.ResourceRecord{Value: aws.String(v)})
	}
	return out
}

// Apply submits batch in one ChangeResourceRecordSets call. The SDK
// retries throttling and connections that never reached Route 53, but not
// a request that was sent and got no answer: it may have been applied, and
// sending it again would make its DELETE fail. That is ErrOutcomeUnknown,
// for the engine to settle by reading the record set back.
func (f *Failover) Apply(ctx context.Context, batch []dns.Change) (string, error) {
	in := &r53.ChangeResourceRecordSetsInput{HostedZoneId: aws.String(f.Settings.HostedZoneID), ChangeBatch: &types.ChangeBatch{
		Comment: aws.String("deployctl dns failover (" + f.Env + ")"),
	}}
	for _, c := range batch {
		in.ChangeBatch.Changes = append(in.ChangeBatch.Changes, types.Change{Action: types.ChangeAction(c.Action), ResourceRecordSet: ptr(toAPI(c))})
	}
	out, err := f.API.ChangeResourceRecordSets(ctx, in, func(o *r53.Options) { o.Retryer = sentOnce{o.Retryer} })
	if err != nil {
		if ambiguous(err) && ctx.Err() == nil {
			return "", fmt.Errorf("change the record set: %w (%v)", dns.ErrOutcomeUnknown, err)
		}
		return "", f.explain("change the record set", err)
	}
	return strings.TrimPrefix(aws.ToString(out.ChangeInfo.Id), "/change/"), nil
}

func ptr[T any](v T) *T { return &v }

// sentOnce is the client's retryer, except for requests that were sent.
type sentOnce struct{ aws.Retryer }

func (r sentOnce) IsErrorRetryable(err error) bool {
	return !ambiguous(err) && r.Retryer.IsErrorRetryable(err)
}

// ambiguous reports a request that may have reached Route 53 and got no
// answer: a transport failure other than failing to connect.
func ambiguous(err error) bool {
	var se *smithyhttp.RequestSendError
	if !errors.As(err, &se) {
		return false
	}
	var op *net.OpError
	return !(errors.As(err, &op) && op.Op == "dial")
}

// ChangeStatus returns PENDING or INSYNC.
func (f *Failover) ChangeStatus(ctx context.Context, id string) (string, error) {
	out, err := f.API.GetChange(ctx, &r53.GetChangeInput{Id: aws.String(id)})
	if err != nil {
		return "", f.explain("read the change "+id, err)
	}
	return string(out.ChangeInfo.Status), nil
}

// HealthyShare is the share of checkers that must report healthy for
// Route 53 to consider an endpoint healthy: more than 18%.
const HealthyShare = 18

// HealthCheck returns the health check's status from its checkers' reports.
func (f *Failover) HealthCheck(ctx context.Context, id string) (dns.Health, error) {
	out, err := f.API.GetHealthCheckStatus(ctx, &r53.GetHealthCheckStatusInput{HealthCheckId: aws.String(id)})
	if err != nil {
		return dns.Health{}, f.explain("read the health check "+id, err)
	}
	h := dns.Health{Checkers: len(out.HealthCheckObservations)}
	var pass, fail string
	for _, o := range out.HealthCheckObservations {
		st := ""
		if o.StatusReport != nil {
			st = aws.ToString(o.StatusReport.Status)
		}
		report := fmt.Sprintf("%s: %s", o.Region, st)
		if strings.HasPrefix(st, "Success") {
			h.Healthy++
			if pass == "" {
				pass = report
			}
		} else if fail == "" {
			fail = report
		}
	}
	h.Status, h.Detail = "unhealthy", fail
	if h.Checkers > 0 && h.Healthy*100 > HealthyShare*h.Checkers {
		h.Status = "healthy"
		if fail == "" {
			h.Detail = pass
		}
	}
	return h, nil
}
