package db

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/deployctl/deployctl/internal/testkit"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/postgres/failover"
)

func ptr[T any](v T) *T { return &v }

// sample is a primary with one streaming and one lagging standby, the two
// replicas' own view, and a third replica that is down.
func sample() failover.Status {
	return failover.Status{
		Primary: failover.Node{Server: "postgres://app:xxxxx@db-1:5432/api", Reachable: true, Role: "primary", Version: "15.20", LSN: "0/5000148"},
		Standbys: []failover.Standby{
			{Name: "db-2", Client: "10.0.1.7", State: "streaming", Sync: "async", ReplayLSN: "0/5000148", LagBytes: ptr(int64(0)), LagSeconds: ptr(0.1)},
			{Name: "db-3", Client: "10.0.1.8", State: "catchup", Sync: "async", ReplayLSN: "0/4000000", LagBytes: ptr(int64(16777544)), LagSeconds: ptr(42.5)},
		},
		Replicas: []failover.Node{
			{Server: "postgres://app:xxxxx@db-2:5432/api", Reachable: true, Role: "replica", Version: "15.20", LSN: "0/5000148", ReceiveLSN: "0/5000148", Receiver: "streaming", LagBytes: ptr(int64(0)), LagSeconds: ptr(0.0)},
			{Server: "postgres://app:xxxxx@db-3:5432/api", Reachable: true, Role: "replica", Version: "15.20", LSN: "0/4000000", ReceiveLSN: "0/4800000", Receiver: "streaming", Paused: true, LagBytes: ptr(int64(16777544)), LagSeconds: ptr(42.5)},
			{Server: "postgres://app:xxxxx@db-4:5432/api", Error: "cannot reach the database postgres://app:xxxxx@db-4:5432/api: connection refused"},
		},
	}
}

func TestStatusGolden(t *testing.T) {
	ios, _, out, _ := ui.Test()
	if err := render(ios, sample()); err != nil {
		t.Fatal(err)
	}
	testkit.Golden(t, "status.golden", out.Bytes())
	b, _ := json.MarshalIndent(sample(), "", "  ")
	testkit.Golden(t, "status.json.golden", append(b, '\n'))
	if err := verdict(ios, sample(), 0); err == nil {
		t.Error("a status with a replica down must fail")
	}
	st := sample()
	st.Replicas = st.Replicas[:2]
	if err := verdict(ios, st, 0); err != nil {
		t.Errorf("all replicas streaming: %v", err)
	}
	if err := verdict(ios, st, 30*time.Second); err == nil {
		t.Error("a replica 42.5s behind with --max-lag 30s must fail")
	}
}
