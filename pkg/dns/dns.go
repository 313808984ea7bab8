// Package dns is the provider-neutral engine of zone failover: the failover
// record set of the environment's host name (a PRIMARY record on the
// primary zone's load balancer, a SECONDARY one on the standby zone's), the
// health of each, and switching the PRIMARY record's target to the
// standby's and back, under the environment lock, with a history entry,
// waiting until the DNS provider reports the change in sync.
//
// The switch is one atomic change batch: DELETE the PRIMARY record exactly
// as it was read, CREATE it again with the new target and everything else
// (set identifier, health check) unchanged. The DELETE makes the batch a
// compare-and-swap: if anybody changed the record after it was read, the
// provider rejects the whole batch and nothing changes.
package dns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Roles of the two records of a failover pair.
const (
	Primary   = "PRIMARY"
	Secondary = "SECONDARY"
)

// Change statuses.
const (
	Pending = "PENDING"
	InSync  = "INSYNC"
)

// Alias points a record at a load balancer (or another resource of the provider).
type Alias struct {
	DNSName              string `json:"dns_name"`
	HostedZoneID         string `json:"hosted_zone_id"`
	EvaluateTargetHealth bool   `json:"evaluate_target_health"`
}

// Target is where a record points: an alias, or values with a TTL.
type Target struct {
	Alias  *Alias   `json:"alias,omitempty"`
	Values []string `json:"values,omitempty"`
	TTL    int64    `json:"ttl,omitempty"`
}

// String is the target for people.
func (t Target) String() string {
	if t.Alias != nil {
		return "alias " + t.Alias.DNSName
	}
	return fmt.Sprintf("%s (ttl %ds)", strings.Join(t.Values, ", "), t.TTL)
}

// Equal reports whether t and o point at the same place, ignoring the case
// and trailing dot of names.
func (t Target) Equal(o Target) bool {
	if (t.Alias == nil) != (o.Alias == nil) {
		return false
	}
	if t.Alias != nil {
		a, b := *t.Alias, *o.Alias
		return canon(a.DNSName) == canon(b.DNSName) && a.HostedZoneID == b.HostedZoneID && a.EvaluateTargetHealth == b.EvaluateTargetHealth
	}
	return t.TTL == o.TTL && slices.Equal(t.Values, o.Values)
}

func canon(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) }

// Record is one record of the failover pair.
type Record struct {
	Role          string `json:"role"` // PRIMARY | SECONDARY
	SetIdentifier string `json:"set_identifier"`
	Target        Target `json:"target"`
	HealthCheckID string `json:"health_check_id,omitempty"`
}

// RecordSet is the failover pair of one name and type.
type RecordSet struct {
	Name      string `json:"name"`
	Type      string `json:"type"`
	Primary   Record `json:"primary"`
	Secondary Record `json:"secondary"`
}

// Health is a health check's status as the provider's checkers report it.
type Health struct {
	Status   string `json:"status"` // healthy | unhealthy
	Healthy  int    `json:"healthy_checkers"`
	Checkers int    `json:"checkers"`
	Detail   string `json:"detail,omitempty"` // a failing checker's report, else a passing one's
}

// Change is one change of an atomic batch.
type Change struct {
	Action string // CREATE | DELETE | UPSERT
	Name   string
	Type   string
	Record Record
}

// MarshalJSON writes the change as Route 53's ChangeBatch has it (the
// shape `aws route53 change-resource-record-sets --change-batch` takes).
func (c Change) MarshalJSON() ([]byte, error) {
	type alias struct {
		HostedZoneID         string `json:"HostedZoneId"`
		DNSName              string `json:"DNSName"`
		EvaluateTargetHealth bool   `json:"EvaluateTargetHealth"`
	}
	type value struct {
		Value string `json:"Value"`
	}
	type rrset struct {
		Name            string  `json:"Name"`
		Type            string  `json:"Type"`
		SetIdentifier   string  `json:"SetIdentifier"`
		Failover        string  `json:"Failover"`
		TTL             int64   `json:"TTL,omitempty"`
		ResourceRecords []value `json:"ResourceRecords,omitempty"`
		AliasTarget     *alias  `json:"AliasTarget,omitempty"`
		HealthCheckID   string  `json:"HealthCheckId,omitempty"`
	}
	r := c.Record
	rs := rrset{Name: c.Name, Type: c.Type, SetIdentifier: r.SetIdentifier, Failover: r.Role, HealthCheckID: r.HealthCheckID}
	if a := r.Target.Alias; a != nil {
		rs.AliasTarget = &alias{a.HostedZoneID, a.DNSName, a.EvaluateTargetHealth}
	} else {
		rs.TTL = r.Target.TTL
		for _, v := range r.Target.Values {
			rs.ResourceRecords = append(rs.ResourceRecords, value{v})
		}
	}
	return json.Marshal(struct {
		Action            string `json:"Action"`
		ResourceRecordSet rrset  `json:"ResourceRecordSet"`
	}{c.Action, rs})
}

// Failover is the ability of a DNS provider that the engine needs.
type Failover interface {
	// RecordSet reads the failover pair.
	RecordSet(ctx context.Context) (RecordSet, error)
	// HealthCheck returns the status of a health check.
	HealthCheck(ctx context.Context, id string) (Health, error)
	// Apply submits batch, all or nothing, and returns its change id. A
	// batch the service refused wraps ErrRejected; one whose reply was lost
	// (it may or may not have been applied) wraps ErrOutcomeUnknown.
	Apply(ctx context.Context, batch []Change) (changeID string, err error)
	// ChangeStatus returns Pending or InSync.
	ChangeStatus(ctx context.Context, id string) (string, error)
	// Where names the record set for people and for the commands that check
	// a change by hand ("api.example.com. A in hosted zone Z1").
	Where() Where
}

// Where is the record set's place at its provider.
type Where struct {
	Provider string `json:"provider"`
	Zone     string `json:"zone"`
	Name     string `json:"name"`
	Type     string `json:"type"`
}

func (w Where) String() string { return fmt.Sprintf("%s %s in hosted zone %s", w.Name, w.Type, w.Zone) }

var (
	// ErrRejected is a change batch the service refused: nothing changed.
	ErrRejected = errors.New("change batch rejected")
	// ErrOutcomeUnknown is a change batch sent without an answer.
	ErrOutcomeUnknown = errors.New("no answer to the change batch: it may or may not have been applied")
)
