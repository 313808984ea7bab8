package dns_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	r53 "github.com/aws/aws-sdk-go-v2/service/route53"

	"github.com/deployctl/deployctl/pkg/dns"
	"github.com/deployctl/deployctl/pkg/history"
	"github.com/deployctl/deployctl/pkg/lock"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/aws/route53"
	"github.com/deployctl/deployctl/pkg/provider/aws/route53/r53test"
	"github.com/deployctl/deployctl/pkg/provider/local/statefs"
)

type fixture struct {
	fake *r53test.Server
	e    *dns.Engine
	log  provider.HistoryLog
}

// newFixture is the engine on the real Route 53 provider against the fake,
// with the local state folder's lock, state and history.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	fake := r53test.Start(t)
	fake.AddFailoverZone()
	opts := func(o *r53.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider("AKIDTEST", "test-secret", "")
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		})
	}
	env := provider.Env{Name: "production", StateDir: t.TempDir()}
	f, err := route53.New(t.Context(), env, route53.Settings{Endpoint: fake.URL, HostedZoneID: r53test.ZoneID, Record: "api.example.com"}, opts)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := statefs.NewState(t.Context(), env, nil)
	lk, _ := statefs.NewLocker(t.Context(), env, nil)
	log, _ := statefs.NewHistory(t.Context(), env, nil)
	e := &dns.Engine{DNS: f, State: st, Actor: "alice", Poll: time.Millisecond,
		Lock:    &lock.Guard{Locker: lk, Holder: func(c string) provider.Holder { return provider.Holder{Actor: "alice", Command: c} }},
		History: &history.Recorder{Open: func(context.Context) (provider.HistoryLog, error) { return log, nil }, Env: "production", Actor: "alice"},
	}
	return &fixture{fake: fake, e: e, log: log}
}

func (fx *fixture) primary() r53test.RecordSet {
	return *fx.fake.Record(r53test.ZoneID, r53test.Record, "A", "api-primary")
}

func (fx *fixture) failover(t *testing.T, to string) dns.Result {
	t.Helper()
	p, err := fx.e.PlanFailover(t.Context(), to)
	if err != nil {
		t.Fatal(err)
	}
	res, err := fx.e.Failover(t.Context(), p, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestFailoverAndBackRestoreThePrimaryExactly(t *testing.T) {
	fx := newFixture(t)
	st, err := fx.e.Status(t.Context())
	if err != nil || st.Serving != "primary" || st.Switched || st.Primary.Health == nil || st.Primary.Health.Status != "healthy" {
		t.Fatalf("status before = %+v, %v", st, err)
	}

	res := fx.failover(t, "secondary")
	if !res.Changed || res.Status != dns.InSync || len(res.Batch) != 2 {
		t.Fatalf("failover = %+v", res)
	}
	got := fx.primary()
	if got.Alias.DNSName != r53test.StandbyALB || got.Alias.HostedZoneID != r53test.StandbyALBZ || got.HealthCheckID != r53test.PrimaryHealth || got.Failover != "PRIMARY" {
		t.Fatalf("primary after failover = %+v; want the standby's alias with its own health check", got)
	}
	if sec := fx.fake.Record(r53test.ZoneID, r53test.Record, "A", "api-standby"); !reflect.DeepEqual(*sec, r53test.StandbyRecord()) {
		t.Errorf("the SECONDARY record changed: %+v", sec)
	}
	st, err = fx.e.Status(t.Context())
	if err != nil || st.Serving != "secondary" || !st.Switched || st.Original == nil || st.Original.Alias.DNSName != r53test.PrimaryALB || st.SwitchedBy != "alice" {
		t.Fatalf("status after failover = %+v, %v", st, err)
	}

	fx.failover(t, "primary")
	if got := fx.primary(); !reflect.DeepEqual(got, r53test.PrimaryRecord()) {
		t.Fatalf("primary after --back =\n%+v\nwant exactly\n%+v", got, r53test.PrimaryRecord())
	}
	if st, _ = fx.e.Status(t.Context()); st.Switched || st.Serving != "primary" || st.Original != nil {
		t.Errorf("status after back = %+v", st)
	}
	entries, _ := fx.log.List(t.Context(), provider.Filter{})
	if len(entries) != 2 || entries[0].Command != "dns failover --to secondary" || entries[1].Command != "dns failover --to primary" ||
		entries[0].Result != "ok" || !strings.Contains(entries[0].Detail, "INSYNC") || entries[0].After != "alias "+r53test.StandbyALB {
		t.Errorf("history = %+v", entries)
	}
}

func TestFailoverToWhereItIsChangesNothing(t *testing.T) {
	fx := newFixture(t)
	fx.failover(t, "secondary")
	before := len(fx.fake.CallsOf("ChangeResourceRecordSets"))
	if res := fx.failover(t, "secondary"); res.Changed || len(res.Batch) != 0 {
		t.Fatalf("second failover = %+v", res)
	}
	if n := len(fx.fake.CallsOf("ChangeResourceRecordSets")); n != before {
		t.Errorf("a failover to where it is sent %d changes", n-before)
	}
	fx.failover(t, "primary")
	if res := fx.failover(t, "primary"); res.Changed {
		t.Fatalf("second back = %+v", res)
	}
}

// A reply lost after Route 53 applied the batch: the record set read back
// is the truth. The batch is not sent again (its DELETE would no longer
// match); an UPSERT of the record as it reads back, which changes nothing,
// gives a change to wait on.
func TestLostReplyIsSettledByReadingBack(t *testing.T) {
	fx := newFixture(t)
	var notes []string
	fx.e.Notef = func(f string, a ...any) { notes = append(notes, f) }
	fx.fake.DropReply("ChangeResourceRecordSets", 1)
	res := fx.failover(t, "secondary")
	if res.Status != dns.InSync || res.ChangeID == "" || !strings.Contains(res.Note, "reply to the change was lost") {
		t.Fatalf("failover = %+v", res)
	}
	if fx.fake.Applied() != 1 {
		t.Errorf("%d batches changed the record set, want 1", fx.fake.Applied())
	}
	calls := fx.fake.CallsOf("ChangeResourceRecordSets")
	if len(calls) != 2 || !strings.Contains(calls[1].Body, "<Action>UPSERT</Action>") || strings.Contains(calls[1].Body, "DELETE") {
		t.Errorf("change calls = %d (second: %s); want the batch, then one UPSERT of the record as read back", len(calls), calls[len(calls)-1].Body)
	}
	if got := fx.primary(); got.Alias.DNSName != r53test.StandbyALB {
		t.Fatalf("primary = %+v", got)
	}
	if len(notes) == 0 {
		t.Error("the operator was not told about the lost reply")
	}
}

func TestLostRequestIsSentAgain(t *testing.T) {
	fx := newFixture(t)
	// The connection drops before Route 53 applies anything: no answer,
	// and the record reads back as planned.
	fx.fake.Fail("ChangeResourceRecordSets", r53test.Fault{Drop: true, Times: 1})
	res := fx.failover(t, "secondary")
	if res.Status != dns.InSync || fx.fake.Applied() != 1 || len(fx.fake.CallsOf("ChangeResourceRecordSets")) != 2 {
		t.Fatalf("failover = %+v (applied %d)", res, fx.fake.Applied())
	}
	if got := fx.primary(); got.Alias.DNSName != r53test.StandbyALB {
		t.Fatalf("primary = %+v", got)
	}
}

func TestRecordChangedAfterThePlanIsRefused(t *testing.T) {
	fx := newFixture(t)
	p, err := fx.e.PlanFailover(t.Context(), "secondary")
	if err != nil {
		t.Fatal(err)
	}
	other := r53test.PrimaryRecord()
	other.Alias.DNSName = "dualstack.api-other-1.eu-west-1.elb.amazonaws.com."
	fx.fake.Put(r53test.ZoneID, other) // somebody else, meanwhile
	_, err = fx.e.Failover(t.Context(), p, time.Minute)
	if !errors.Is(err, dns.ErrRejected) || !strings.Contains(err.Error(), "somebody changed it meanwhile") || !strings.Contains(err.Error(), "api-other-1") {
		t.Fatalf("Failover = %v", err)
	}
	if got := fx.primary(); got.Alias.DNSName != other.Alias.DNSName {
		t.Fatalf("the record was changed: %+v", got)
	}
	entries, _ := fx.log.List(t.Context(), provider.Filter{})
	if len(entries) != 1 || entries[0].Result != "failed" {
		t.Errorf("history = %+v", entries)
	}
}

func TestTimeoutLeavesItPendingAndSaysHowToCheck(t *testing.T) {
	fx := newFixture(t)
	fx.fake.SyncAfter = 1 << 30
	p, _ := fx.e.PlanFailover(t.Context(), "secondary")
	res, err := fx.e.Failover(t.Context(), p, 20*time.Millisecond)
	var pe *dns.PendingError
	if !errors.As(err, &pe) || !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		!strings.Contains(err.Error(), "--timeout") || !strings.Contains(err.Error(), "aws route53 get-change --id "+res.ChangeID) {
		t.Fatalf("Failover = %v", err)
	}
	if res.ChangeID == "" || !res.Changed {
		t.Fatalf("result = %+v", res)
	}
	// The switch is in place and can be undone exactly.
	fx.fake.SyncAfter = 0
	fx.failover(t, "primary")
	if got := fx.primary(); !reflect.DeepEqual(got, r53test.PrimaryRecord()) {
		t.Fatalf("back after a timeout = %+v", got)
	}
}

func TestInterruptLeavesItPendingAndIsRecorded(t *testing.T) {
	fx := newFixture(t)
	fx.fake.SyncAfter = 1 << 30
	ctx, cancel := context.WithCancel(t.Context())
	var seen []string
	fx.e.Progress = func(_, st string, _ time.Duration) { seen = append(seen, st); cancel() }
	p, _ := fx.e.PlanFailover(ctx, "secondary")
	_, err := fx.e.Failover(ctx, p, time.Minute)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "interrupted while the change") || !strings.Contains(err.Error(), "PENDING") {
		t.Fatalf("Failover = %v", err)
	}
	if len(seen) == 0 || seen[0] != dns.Pending {
		t.Errorf("progress = %v", seen)
	}
	entries, _ := fx.log.List(t.Context(), provider.Filter{})
	if len(entries) != 1 || entries[0].Result != "interrupted" {
		t.Errorf("history = %+v", entries)
	}
}

func TestBackWithoutAStateSaysWhatToDo(t *testing.T) {
	fx := newFixture(t)
	switched := r53test.PrimaryRecord()
	switched.Alias = r53test.StandbyRecord().Alias // switched by hand
	fx.fake.Put(r53test.ZoneID, switched)
	_, err := fx.e.PlanFailover(t.Context(), "primary")
	if err == nil || !strings.Contains(err.Error(), "by hand") {
		t.Fatalf("PlanFailover = %v", err)
	}
}

func TestStatusNamesTheServingZone(t *testing.T) {
	fx := newFixture(t)
	fx.fake.SetHealth(r53test.PrimaryHealth, r53test.Checkers(8, false)...)
	st, err := fx.e.Status(t.Context())
	if err != nil || st.Serving != "secondary" || st.Switched || !strings.Contains(st.Reason, "health check fails") || st.Primary.Health.Status != "unhealthy" {
		t.Fatalf("status = %+v, %v", st, err)
	}
	fx.fake.SetHealth(r53test.StandbyHealth, r53test.Checkers(8, false)...)
	if st, _ = fx.e.Status(t.Context()); st.Serving != "primary" || !strings.Contains(st.Reason, "both") {
		t.Fatalf("both unhealthy: %+v", st)
	}
}

func TestNotAFailoverRecordSetIsRefused(t *testing.T) {
	fx := newFixture(t)
	fx.fake.AddZone(r53test.ZoneID, r53test.ZoneName, r53test.PrimaryRecord())
	_, err := fx.e.Status(t.Context())
	if err == nil || !strings.Contains(err.Error(), "no SECONDARY failover record") {
		t.Fatalf("Status = %v", err)
	}
}
