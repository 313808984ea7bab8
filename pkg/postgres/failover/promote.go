package failover

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/deployctl/deployctl/pkg/postgres"
)

// Check is what a promotion is decided on.
type Check struct {
	Replica Node `json:"replica"`
	Primary Node `json:"primary"`
	// PrimaryUp: the configured primary answers as a primary; promoting
	// now would leave two primaries taking writes.
	PrimaryUp bool `json:"primary_up"`
}

// ProbeTimeout bounds the look at the old primary: in a disaster it is
// usually gone, and the operator should not wait long to hear so.
var ProbeTimeout = 5 * time.Second

// Precheck inspects the replica (it must be reachable and in recovery) and
// the primary (primaryURL may be empty when unknown).
func Precheck(ctx context.Context, primaryURL, replicaURL string) (Check, error) {
	var c Check
	if primaryURL != "" {
		pctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
		c.Primary = inspect(pctx, primaryURL)
		cancel()
		c.PrimaryUp = c.Primary.Role == "primary"
	}
	st := Read(ctx, "", []string{replicaURL})
	c.Replica = st.Replicas[0]
	if c.PrimaryUp {
		if pl, err1 := ParseLSN(c.Primary.LSN); err1 == nil {
			if rl, err2 := ParseLSN(c.Replica.LSN); err2 == nil {
				lag := int64(pl) - int64(rl)
				c.Replica.LagBytes = &lag
			}
		}
	}
	switch {
	case !c.Replica.Reachable:
		return c, c.Replica.err
	case c.Replica.err != nil:
		return c, c.Replica.err
	case c.Replica.Role != "replica":
		return c, fmt.Errorf("%s is not a replica (pg_is_in_recovery() is false): it is already a primary, nothing to promote", c.Replica.Server)
	}
	return c, nil
}

// Promote promotes the replica and returns once it accepts writes:
// pg_promote(wait => true) and then pg_is_in_recovery() must be false.
func Promote(ctx context.Context, replicaURL string, wait time.Duration) error {
	conn, err := postgres.Connect(ctx, replicaURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT pg_promote(wait => true, wait_seconds => $1)", int(wait.Seconds())).Scan(&ok); err != nil {
		return fmt.Errorf("pg_promote on %s: %w", postgres.Redact(replicaURL), err)
	}
	if !ok {
		return fmt.Errorf("%s did not finish promotion within %s: check its log, then `deployctl db status`", postgres.Redact(replicaURL), wait)
	}
	var recovery bool
	if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&recovery); err != nil {
		return err
	}
	if recovery {
		return errors.New("the server still reports pg_is_in_recovery() = true after promotion: check its log")
	}
	return nil
}
