package dns

import (
	"context"
	"time"
)

// RecordStatus is one record with its health check's status (nil without
// a health check).
type RecordStatus struct {
	Record
	Health *Health `json:"health"`
}

// Status is what `dns status` shows.
type Status struct {
	Where     Where        `json:"where"`
	Name      string       `json:"name"`
	Type      string       `json:"type"`
	Primary   RecordStatus `json:"primary"`
	Secondary RecordStatus `json:"secondary"`
	// Serving is the zone answers go to: primary or secondary.
	Serving string `json:"serving"`
	// Switched: `dns failover --to secondary` pointed the PRIMARY record at
	// the standby zone's target; Original is the PRIMARY's own target.
	Switched   bool       `json:"switched"`
	Original   *Target    `json:"original,omitempty"`
	SwitchedAt *time.Time `json:"switched_at,omitempty"`
	SwitchedBy string     `json:"switched_by,omitempty"`
	Reason     string     `json:"reason"`
}

// Status reads the record set, the health of each record and the state.
func (e *Engine) Status(ctx context.Context) (Status, error) {
	w := e.DNS.Where()
	rs, err := e.DNS.RecordSet(ctx)
	if err != nil {
		return Status{}, err
	}
	if err := check(rs, w); err != nil {
		return Status{}, err
	}
	st := Status{Where: w, Name: rs.Name, Type: rs.Type, Primary: RecordStatus{Record: rs.Primary}, Secondary: RecordStatus{Record: rs.Secondary}}
	for _, r := range []*RecordStatus{&st.Primary, &st.Secondary} {
		if r.HealthCheckID == "" {
			continue
		}
		h, err := e.DNS.HealthCheck(ctx, r.HealthCheckID)
		if err != nil {
			return Status{}, err
		}
		r.Health = &h
	}
	s, _, err := e.load(ctx)
	if err != nil {
		return Status{}, err
	}
	st.Switched = switched(rs)
	if st.Switched {
		st.Original, st.SwitchedBy = s.Original, s.By
		if !s.SwitchedAt.IsZero() {
			t := s.SwitchedAt
			st.SwitchedAt = &t
		}
	}
	st.Serving, st.Reason = serving(st)
	return st, nil
}

// serving says which zone answers go to, and why: Route 53 answers with
// the PRIMARY record while its health check passes (or it has none), else
// with the SECONDARY one while that passes.
func serving(st Status) (string, string) {
	unhealthy := func(r RecordStatus) bool { return r.Health != nil && r.Health.Status != "healthy" }
	switch {
	case st.Switched:
		return "secondary", "the PRIMARY record points at the standby zone (dns failover); run `deployctl dns failover --back` to return"
	case unhealthy(st.Primary) && !unhealthy(st.Secondary):
		return "secondary", "the PRIMARY record's health check fails: Route 53 answers with the SECONDARY record"
	case unhealthy(st.Primary):
		return "primary", "both health checks fail: Route 53 answers with the PRIMARY record (all unhealthy)"
	}
	return "primary", "the PRIMARY record is healthy"
}
