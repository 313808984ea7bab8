package failover_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/postgres/failover"
	"github.com/deployctl/deployctl/pkg/postgres/failover/replicatest"
	"github.com/deployctl/deployctl/pkg/postgres/pgtest"
)

var pg *pgtest.Cluster

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

// waitStreaming waits until the primary lists a standby as streaming.
func waitStreaming(t *testing.T) failover.Status {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := failover.Read(t.Context(), pg.URL("postgres"), nil)
		for _, s := range st.Standbys {
			if s.State == "streaming" {
				return st
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no streaming standby: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStatusOfPrimaryAndReplica(t *testing.T) {
	r := replicatest.Start(t, pg)
	waitStreaming(t)
	db := pg.NewDatabase(t)
	_ = db
	st := failover.Read(t.Context(), pg.URL("postgres"), []string{r.URL("postgres"), "postgres://postgres:pgtest@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2"})
	if st.Primary.Role != "primary" || !st.Primary.Reachable || st.Primary.LSN == "" {
		t.Errorf("primary %+v", st.Primary)
	}
	rep := st.Replicas[0]
	if rep.Role != "replica" || rep.Receiver != "streaming" || rep.LagBytes == nil || *rep.LagBytes < 0 {
		t.Errorf("replica %+v", rep)
	}
	if down := st.Replicas[1]; down.Reachable || !down.Unreachable() || strings.Contains(down.Server, "pgtest") {
		t.Errorf("unreachable replica %+v", down)
	}
	if len(st.Standbys) == 0 || st.Standbys[0].LagBytes == nil {
		t.Errorf("standbys %+v", st.Standbys)
	}
}

func TestPromoteAReplica(t *testing.T) {
	r := replicatest.Start(t, pg)
	waitStreaming(t)
	c, err := failover.Precheck(t.Context(), pg.URL("postgres"), r.URL("postgres"))
	if err != nil || !c.PrimaryUp || c.Replica.Role != "replica" || c.Replica.LagBytes == nil {
		t.Fatalf("precheck %+v, %v", c, err)
	}
	if err := failover.Promote(t.Context(), r.URL("postgres"), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	after := failover.Read(context.Background(), r.URL("postgres"), nil)
	if after.Primary.Role != "primary" {
		t.Fatalf("after promotion: %+v", after.Primary)
	}
	if _, err := failover.Precheck(t.Context(), "", r.URL("postgres")); err == nil || !strings.Contains(err.Error(), "not a replica") {
		t.Fatalf("precheck of a primary: %v", err)
	}
}

func TestParseLSN(t *testing.T) {
	if v, err := failover.ParseLSN("16/B374D848"); err != nil || v != 0x16B374D848 {
		t.Fatalf("ParseLSN = %x, %v", v, err)
	}
	if _, err := failover.ParseLSN("nope"); err == nil {
		t.Fatal("ParseLSN accepted nope")
	}
}
