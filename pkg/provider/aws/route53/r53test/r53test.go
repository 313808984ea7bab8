// Package r53test is an in-process fake of the Route 53 API that speaks its
// wire protocol (REST-XML: paths under /2013-04-01/, XML bodies, XML errors
// in Route 53's two shapes), so tests run the real SDK against it. It keeps
// hosted zones with their record sets, changes and health checks.
//
// It enforces the documented rules a client can get wrong: a change batch
// is atomic (one rejected change rejects all); CREATE of an existing record
// set and DELETE of one that is missing or whose values differ in any field
// are InvalidChangeBatch; a failover record needs both SetIdentifier and
// Failover (InvalidInput), may not sit beside a simple record of the same
// name and type, and each name and type has at most one PRIMARY and one
// SECONDARY; a record has either ResourceRecords with a TTL or an
// AliasTarget without one; names outside the zone are refused. A change is
// PENDING for SyncAfter GetChange calls, then INSYNC. Unknown zones, changes
// and health checks are NoSuchHostedZone, NoSuchChange, NoSuchHealthCheck
// (404). Every request must be signed for us-east-1, as Route 53 is global.
package r53test

import (
	"encoding/xml"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
)

// RecordSet is one resource record set, in the XML shape of the API.
type RecordSet struct {
	XMLName       xml.Name     `xml:"ResourceRecordSet"`
	Name          string       `xml:"Name"`
	Type          string       `xml:"Type"`
	SetIdentifier string       `xml:"SetIdentifier,omitempty"`
	Weight        *int64       `xml:"Weight,omitempty"`
	Region        string       `xml:"Region,omitempty"`
	Failover      string       `xml:"Failover,omitempty"`
	TTL           *int64       `xml:"TTL,omitempty"`
	Values        []Value      `xml:"ResourceRecords>ResourceRecord,omitempty"`
	Alias         *AliasTarget `xml:"AliasTarget,omitempty"`
	HealthCheckID string       `xml:"HealthCheckId,omitempty"`
}

// Value is one value of a record (an address, a host name).
type Value struct {
	Value string `xml:"Value"`
}

// Values returns vs as record values.
func Values(vs ...string) []Value {
	out := make([]Value, len(vs))
	for i, v := range vs {
		out[i] = Value{v}
	}
	return out
}

// AliasTarget is a record's alias to an AWS resource (a load balancer).
type AliasTarget struct {
	HostedZoneID         string `xml:"HostedZoneId"`
	DNSName              string `xml:"DNSName"`
	EvaluateTargetHealth bool   `xml:"EvaluateTargetHealth"`
}

func (r RecordSet) key() string {
	return strings.ToLower(fqdn(r.Name)) + "|" + r.Type + "|" + r.SetIdentifier
}

// Zone is one hosted zone.
type Zone struct {
	ID, Name string
	Records  []RecordSet
}

// Change is one accepted change batch.
type Change struct {
	ID      string
	Polls   int // GetChange calls so far
	Batch   []ChangeItem
	Changed bool // whether the batch changed any record set
}

// ChangeItem is one change of a batch, as the client sent it.
type ChangeItem struct {
	Action string    `xml:"Action"`
	Record RecordSet `xml:"ResourceRecordSet"`
}

// Observation is one health checker's last report.
type Observation struct {
	Region, IP string
	Healthy    bool
	Detail     string // e.g. "HTTP Status Code 200, OK"
}

// Fault makes the next Times calls of an operation (-1: all) fail with
// Code (HTTP Status, 400 by default) after letting After calls through.
// Drop closes the connection instead, before doing any work: a request
// lost on the way in.
type Fault struct {
	Code, Message        string
	Status, Times, After int
	Drop                 bool
}

// Call is one request as the SDK sent it.
type Call struct {
	Op, Method, Path, Query, Body string
}

// Server is the fake.
type Server struct {
	URL string

	mu           sync.Mutex
	Zones        map[string]*Zone
	Changes      map[string]*Change
	HealthChecks map[string][]Observation
	Faults       map[string]*Fault
	// DropReplies makes the next N calls of an operation do their work and
	// then close the connection without an answer: a reply lost on the way.
	DropReplies map[string]int
	Calls       []Call
	// SyncAfter is how many GetChange calls answer PENDING before INSYNC.
	SyncAfter int
	// PageSize is the most record sets one ListResourceRecordSets page holds
	// when the client asks for more.
	PageSize int
	seq      int
}

// Start runs a fake on a loopback port until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{Zones: map[string]*Zone{}, Changes: map[string]*Change{}, HealthChecks: map[string][]Observation{},
		Faults: map[string]*Fault{}, DropReplies: map[string]int{}, SyncAfter: 2, PageSize: 100}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// AddZone adds a hosted zone holding records.
func (s *Server) AddZone(id, name string, records ...RecordSet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	z := &Zone{ID: id, Name: fqdn(strings.ToLower(name))}
	for _, r := range records {
		r.Name = fqdn(strings.ToLower(r.Name))
		z.Records = append(z.Records, r)
	}
	s.Zones[id] = z
}

// SetHealth sets the observations of a health check.
func (s *Server) SetHealth(id string, obs ...Observation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.HealthChecks[id] = obs
}

// Checkers returns n observations from distinct regions, all healthy or not.
func Checkers(n int, healthy bool) []Observation {
	regions := []string{"us-east-1", "us-west-1", "us-west-2", "eu-west-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "sa-east-1"}
	out := make([]Observation, n)
	for i := range out {
		d := "HTTP Status Code 200, OK"
		if !healthy {
			d = "Received status code 503 from the endpoint"
		}
		out[i] = Observation{Region: regions[i%len(regions)], IP: fmt.Sprintf("15.177.%d.1", i+1), Healthy: healthy, Detail: d}
	}
	return out
}

// Fail injects a fault for op ("ChangeResourceRecordSets", "GetChange",
// "ListResourceRecordSets", "GetHealthCheckStatus").
func (s *Server) Fail(op string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Status == 0 {
		f.Status = 400
	}
	s.Faults[op] = &f
}

// DropReply makes the next n calls of op lose their reply after doing their work.
func (s *Server) DropReply(op string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.DropReplies[op] = n
}

// Record returns a copy of the zone's record set name/type/id, or nil.
func (s *Server) Record(zone, name, typ, id string) *RecordSet {
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.Zones[zone]
	if z == nil {
		return nil
	}
	want := RecordSet{Name: name, Type: typ, SetIdentifier: id}.key()
	for _, r := range z.Records {
		if r.key() == want {
			c := r
			return &c
		}
	}
	return nil
}

// CallsOf returns the calls of op so far.
func (s *Server) CallsOf(op string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.Calls {
		if c.Op == op {
			out = append(out, c)
		}
	}
	return out
}

// Ops lists the operations called so far, in order.
func (s *Server) Ops() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.Calls))
	for i, c := range s.Calls {
		out[i] = c.Op
	}
	return out
}

// Applied counts the accepted change batches that changed a record set.
func (s *Server) Applied() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.Changes {
		if c.Changed {
			n++
		}
	}
	return n
}

func fqdn(name string) string {
	if strings.HasSuffix(name, ".") {
		return name
	}
	return name + "."
}

// less orders record sets as Route 53 lists them: by name with its labels
// reversed (com.example.api), then type, then set identifier.
func less(a, b RecordSet) int {
	if c := strings.Compare(reversed(a.Name), reversed(b.Name)); c != 0 {
		return c
	}
	if c := strings.Compare(a.Type, b.Type); c != 0 {
		return c
	}
	return strings.Compare(a.SetIdentifier, b.SetIdentifier)
}

func reversed(name string) string {
	labels := strings.Split(strings.TrimSuffix(strings.ToLower(name), "."), ".")
	slices.Reverse(labels)
	return strings.Join(labels, ".")
}

// Put sets a record set of a zone as the console would (no checks).
func (s *Server) Put(zone string, r RecordSet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.Zones[zone]
	r.Name = fqdn(strings.ToLower(r.Name))
	for i, x := range z.Records {
		if x.key() == r.key() {
			z.Records[i] = r
			return
		}
	}
	z.Records = append(z.Records, r)
}
