package route53_test

import (
	"encoding/xml"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	r53 "github.com/aws/aws-sdk-go-v2/service/route53"

	"github.com/deployctl/deployctl/pkg/dns"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/aws/route53"
	"github.com/deployctl/deployctl/pkg/provider/aws/route53/r53test"
)

func testOpts(o *r53.Options) {
	o.Credentials = credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", "")
	o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
		so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
	})
}

func open(t *testing.T) (*r53test.Server, *route53.Failover) {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	fake := r53test.Start(t)
	fake.AddFailoverZone()
	f, err := route53.New(t.Context(), provider.Env{Name: "production"},
		route53.Settings{Endpoint: fake.URL, HostedZoneID: "/hostedzone/" + r53test.ZoneID, Record: "API.example.com"}, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	return fake, f
}

func primaryAlias() *dns.Alias {
	return &dns.Alias{DNSName: r53test.PrimaryALB, HostedZoneID: r53test.PrimaryALBZ, EvaluateTargetHealth: true}
}

func standbyAlias() *dns.Alias {
	return &dns.Alias{DNSName: r53test.StandbyALB, HostedZoneID: r53test.StandbyALBZ, EvaluateTargetHealth: true}
}

func TestRecordSetReadsThePairAcrossPages(t *testing.T) {
	fake, f := open(t)
	fake.PageSize = 1 // the pair spans two pages, then the TXT record ends it
	rs, err := f.RecordSet(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := dns.RecordSet{Name: r53test.Record, Type: "A",
		Primary:   dns.Record{Role: "PRIMARY", SetIdentifier: "api-primary", HealthCheckID: r53test.PrimaryHealth, Target: dns.Target{Alias: primaryAlias()}},
		Secondary: dns.Record{Role: "SECONDARY", SetIdentifier: "api-standby", HealthCheckID: r53test.StandbyHealth, Target: dns.Target{Alias: standbyAlias()}}}
	if !rs.Primary.Target.Equal(want.Primary.Target) || !rs.Secondary.Target.Equal(want.Secondary.Target) ||
		rs.Primary.SetIdentifier != "api-primary" || rs.Secondary.HealthCheckID != r53test.StandbyHealth || rs.Name != want.Name {
		t.Fatalf("RecordSet =\n%+v\nwant\n%+v", rs, want)
	}
	calls := fake.CallsOf("ListResourceRecordSets")
	if len(calls) != 3 {
		t.Fatalf("ListResourceRecordSets calls = %d, want 3 pages (primary, secondary, TXT ends the pair)", len(calls))
	}
	if c := calls[0]; c.Method != "GET" || c.Path != "/2013-04-01/hostedzone/"+r53test.ZoneID+"/rrset" || c.Query != "name=api.example.com.&type=A" {
		t.Errorf("first request = %s %s?%s; want the zone id without /hostedzone/ and the name and type", c.Method, c.Path, c.Query)
	}
	if q := calls[1].Query; !strings.Contains(q, "identifier=api-standby") {
		t.Errorf("second page query %q does not continue from NextRecordIdentifier", q)
	}
}

func switchBatch(t *testing.T, f *route53.Failover) []dns.Change {
	t.Helper()
	rs, err := f.RecordSet(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	next := rs.Primary
	next.Target = rs.Secondary.Target
	return []dns.Change{{Action: "DELETE", Name: rs.Name, Type: rs.Type, Record: rs.Primary}, {Action: "CREATE", Name: rs.Name, Type: rs.Type, Record: next}}
}

func TestApplySendsTheExactChangeBatch(t *testing.T) {
	fake, f := open(t)
	id, err := f.Apply(t.Context(), switchBatch(t, f))
	if err != nil {
		t.Fatal(err)
	}
	calls := fake.CallsOf("ChangeResourceRecordSets")
	if len(calls) != 1 || calls[0].Method != "POST" || calls[0].Path != "/2013-04-01/hostedzone/"+r53test.ZoneID+"/rrset" {
		t.Fatalf("calls = %+v", calls)
	}
	var body struct {
		Comment string               `xml:"ChangeBatch>Comment"`
		Changes []r53test.ChangeItem `xml:"ChangeBatch>Changes>Change"`
	}
	if err := xml.Unmarshal([]byte(calls[0].Body), &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Changes) != 2 || body.Changes[0].Action != "DELETE" || body.Changes[1].Action != "CREATE" || body.Comment != "deployctl dns failover (production)" {
		t.Fatalf("batch = %+v", body)
	}
	created := body.Changes[1].Record
	if created.SetIdentifier != "api-primary" || created.Failover != "PRIMARY" || created.HealthCheckID != r53test.PrimaryHealth ||
		created.Alias == nil || created.Alias.DNSName != r53test.StandbyALB || created.Alias.HostedZoneID != r53test.StandbyALBZ || created.TTL != nil {
		t.Errorf("CREATE = %+v; want the PRIMARY record with the standby's alias and nothing else changed", created)
	}
	got := fake.Record(r53test.ZoneID, r53test.Record, "A", "api-primary")
	if got == nil || got.Alias.DNSName != r53test.StandbyALB {
		t.Fatalf("primary record after = %+v", got)
	}
	if !strings.HasPrefix(id, "C") || strings.Contains(id, "/") {
		t.Errorf("change id %q: want the bare id", id)
	}
	for i, want := range []string{dns.Pending, dns.Pending, dns.InSync} {
		st, err := f.ChangeStatus(t.Context(), id)
		if err != nil || st != want {
			t.Fatalf("GetChange #%d = %q, %v; want %s", i+1, st, err, want)
		}
	}
}

func TestDeleteThatNoLongerMatchesRejectsTheWholeBatch(t *testing.T) {
	fake, f := open(t)
	batch := switchBatch(t, f)
	batch[0].Record.Target.Alias.EvaluateTargetHealth = false // as if somebody changed it since
	_, err := f.Apply(t.Context(), batch)
	if !errors.Is(err, dns.ErrRejected) || !strings.Contains(err.Error(), "do not match the current values") {
		t.Fatalf("Apply = %v; want ErrRejected with Route 53's message", err)
	}
	if got := fake.Record(r53test.ZoneID, r53test.Record, "A", "api-primary"); got.Alias.DNSName != r53test.PrimaryALB {
		t.Fatalf("a rejected batch changed the record: %+v", got)
	}
}

func TestFailoverRecordWithoutSetIdentifierIsInvalidInput(t *testing.T) {
	_, f := open(t)
	batch := switchBatch(t, f)[1:]
	batch[0].Action, batch[0].Record.SetIdentifier = "UPSERT", ""
	_, err := f.Apply(t.Context(), batch)
	if err == nil || errors.Is(err, dns.ErrRejected) || !strings.Contains(err.Error(), "Missing field 'SetIdentifier'") {
		t.Fatalf("Apply = %v; want InvalidInput naming SetIdentifier", err)
	}
}

func TestThrottlingIsRetried(t *testing.T) {
	fake, f := open(t)
	fake.Fail("ChangeResourceRecordSets", r53test.Fault{Code: "Throttling", Message: "Rate exceeded", Times: 2})
	fake.Fail("GetChange", r53test.Fault{Code: "PriorRequestNotComplete", Message: "The request was rejected because Route 53 was still processing a prior request.", Times: 1})
	id, err := f.Apply(t.Context(), switchBatch(t, f))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(fake.CallsOf("ChangeResourceRecordSets")); n != 3 {
		t.Errorf("ChangeResourceRecordSets calls = %d, want 3 (two throttled)", n)
	}
	if _, err := f.ChangeStatus(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	if fake.Applied() != 1 {
		t.Errorf("applied %d batches, want 1", fake.Applied())
	}
}

func TestThrottlingBeyondRetriesSaysWhatToDo(t *testing.T) {
	fake, f := open(t)
	fake.Fail("ListResourceRecordSets", r53test.Fault{Code: "Throttling", Message: "Rate exceeded", Times: -1})
	_, err := f.RecordSet(t.Context())
	if err == nil || !strings.Contains(err.Error(), "throttled") || !strings.Contains(err.Error(), "run the command again") {
		t.Fatalf("RecordSet = %v", err)
	}
}

// A reply lost after Route 53 applied the batch is not sent again: the
// SDK's retry would find the DELETE no longer matching and fail with a
// confusing InvalidChangeBatch. It is ErrOutcomeUnknown, for the engine
// to settle by reading the record set back.
func TestLostReplyIsNotSentAgain(t *testing.T) {
	fake, f := open(t)
	fake.DropReply("ChangeResourceRecordSets", 1)
	_, err := f.Apply(t.Context(), switchBatch(t, f))
	if !errors.Is(err, dns.ErrOutcomeUnknown) {
		t.Fatalf("Apply = %v; want ErrOutcomeUnknown", err)
	}
	if n := len(fake.CallsOf("ChangeResourceRecordSets")); n != 1 {
		t.Errorf("ChangeResourceRecordSets calls = %d, want 1", n)
	}
	if fake.Applied() != 1 {
		t.Errorf("applied %d batches, want 1", fake.Applied())
	}
}

func TestUnknownZoneIsAConfigurationError(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	fake := r53test.Start(t)
	f, err := route53.New(t.Context(), provider.Env{Name: "production"}, route53.Settings{Endpoint: fake.URL, HostedZoneID: "ZNOPE", Record: "api.example.com"}, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.RecordSet(t.Context())
	var ce *provider.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "dns.route53.hosted_zone_id") || !strings.Contains(err.Error(), "ZNOPE") {
		t.Fatalf("RecordSet = %v; want a ConfigError naming the setting", err)
	}
}

func TestHealthCheckFollowsRoute53sEighteenPercentRule(t *testing.T) {
	fake, f := open(t)
	obs := r53test.Checkers(8, false)
	obs[0].Healthy = true // 1 of 8: 12.5%
	fake.SetHealth(r53test.PrimaryHealth, obs...)
	h, err := f.HealthCheck(t.Context(), r53test.PrimaryHealth)
	if err != nil || h.Status != "unhealthy" || h.Healthy != 1 || h.Checkers != 8 || !strings.Contains(h.Detail, "503") {
		t.Fatalf("1 of 8 = %+v, %v", h, err)
	}
	obs[1].Healthy = true // 2 of 8: 25%
	fake.SetHealth(r53test.PrimaryHealth, obs...)
	if h, err = f.HealthCheck(t.Context(), r53test.PrimaryHealth); err != nil || h.Status != "healthy" {
		t.Fatalf("2 of 8 = %+v, %v", h, err)
	}
	if c := fake.CallsOf("GetHealthCheckStatus"); c[0].Path != "/2013-04-01/healthcheck/"+r53test.PrimaryHealth+"/status" {
		t.Errorf("path = %s", c[0].Path)
	}
	if _, err := f.HealthCheck(t.Context(), "nope"); err == nil || !strings.Contains(err.Error(), "health check does not exist") {
		t.Fatalf("unknown health check: %v", err)
	}
}

func TestSettingsAreChecked(t *testing.T) {
	for _, s := range []route53.Settings{{Record: "api.example.com"}, {HostedZoneID: "Z1"}, {HostedZoneID: "Z1", Record: "a.example.com", Type: "MX"}} {
		_, err := route53.New(t.Context(), provider.Env{}, s, testOpts)
		var ce *provider.ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "dns.route53.") {
			t.Errorf("New(%+v) = %v; want a ConfigError naming the key", s, err)
		}
	}
}

// A connection that was never made is not a lost reply: it is retried and
// then reported unreachable (exit 4), not as a change of unknown outcome.
func TestRefusedConnectionIsUnreachable(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	f, err := route53.New(t.Context(), provider.Env{Name: "production"}, route53.Settings{Endpoint: "http://127.0.0.1:1", HostedZoneID: "Z1", Record: "api.example.com"}, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Apply(t.Context(), []dns.Change{{Action: "UPSERT", Name: "api.example.com.", Type: "A", Record: dns.Record{Role: "PRIMARY", SetIdentifier: "p", Target: dns.Target{Values: []string{"203.0.113.1"}, TTL: 60}}}})
	var ue *provider.UnreachableError
	if !errors.As(err, &ue) || errors.Is(err, dns.ErrOutcomeUnknown) {
		t.Fatalf("Apply = %v; want unreachable", err)
	}
}
