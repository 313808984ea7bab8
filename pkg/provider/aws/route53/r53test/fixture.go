package r53test

// The reference deployment's failover record set, as docs/dr.md sets it
// up: api.example.com answers with the primary zone's load balancer
// (eu-west-1) while its health check passes, else with the standby zone's
// (eu-central-1).
const (
	ZoneID        = "Z0123456789EXAMPLE"
	ZoneName      = "example.com."
	Record        = "api.example.com."
	PrimaryALB    = "dualstack.api-primary-1234567890.eu-west-1.elb.amazonaws.com."
	PrimaryALBZ   = "Z32O12XQLNTSW2" // eu-west-1 ALBs' canonical hosted zone
	StandbyALB    = "dualstack.api-standby-0987654321.eu-central-1.elb.amazonaws.com."
	StandbyALBZ   = "Z215JYRZR1TBD5" // eu-central-1 ALBs' canonical hosted zone
	PrimaryHealth = "11111111-aaaa-4bbb-8ccc-000000000001"
	StandbyHealth = "22222222-aaaa-4bbb-8ccc-000000000002"
)

// PrimaryRecord and StandbyRecord are the failover pair.
func PrimaryRecord() RecordSet {
	return RecordSet{Name: Record, Type: "A", SetIdentifier: "api-primary", Failover: "PRIMARY", HealthCheckID: PrimaryHealth,
		Alias: &AliasTarget{HostedZoneID: PrimaryALBZ, DNSName: PrimaryALB, EvaluateTargetHealth: true}}
}

// StandbyRecord is the SECONDARY record.
func StandbyRecord() RecordSet {
	return RecordSet{Name: Record, Type: "A", SetIdentifier: "api-standby", Failover: "SECONDARY", HealthCheckID: StandbyHealth,
		Alias: &AliasTarget{HostedZoneID: StandbyALBZ, DNSName: StandbyALB, EvaluateTargetHealth: true}}
}

// AddFailoverZone adds the zone with the failover pair among other
// records (of the name and of others, before and after it in the listing),
// and both health checks passing on 8 checkers.
func (s *Server) AddFailoverZone() {
	ttl := int64(300)
	s.AddZone(ZoneID, ZoneName,
		RecordSet{Name: ZoneName, Type: "NS", TTL: &ttl, Values: Values("ns-1.awsdns-01.org.", "ns-2.awsdns-02.com.")},
		RecordSet{Name: "admin.example.com.", Type: "A", TTL: &ttl, Values: Values("203.0.113.7")},
		StandbyRecord(),
		RecordSet{Name: Record, Type: "TXT", TTL: &ttl, Values: Values(`"v=spf1 -all"`)},
		PrimaryRecord(),
		RecordSet{Name: "www.example.com.", Type: "CNAME", TTL: &ttl, Values: Values(Record)},
	)
	s.SetHealth(PrimaryHealth, Checkers(8, true)...)
	s.SetHealth(StandbyHealth, Checkers(8, true)...)
}
