package s3state_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/aws/s3state"
	"github.com/deployctl/deployctl/pkg/provider/aws/s3store/s3test"
	"github.com/deployctl/deployctl/pkg/provider/local/statefs"
	"github.com/deployctl/deployctl/pkg/provider/providertest"
)

var gw s3test.Gateway

func TestMain(m *testing.M) { s3test.Main(m, &gw) }

// bucket is a fresh bucket on versitygw, which enforces conditional writes.
func bucket(t *testing.T) *s3state.Bucket {
	t.Helper()
	var s s3state.Settings
	s.Region = s3test.Region
	s.State.Bucket, s.State.Prefix, s.State.PathStyle = gw.NewBucket(t), "deployctl", true
	b, err := s3state.NewBucket(t.Context(), provider.Env{Name: "production"}, s, s3test.Options(gw.URL))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func locker(b *s3state.Bucket, ttl time.Duration, notes *[]string) *s3state.Locker {
	l := s3state.NewS3Locker(b)
	l.TTL = ttl
	l.Notef = func(format string, a ...any) {
		if notes != nil {
			*notes = append(*notes, format)
		}
	}
	return l
}

func TestLockerSuite(t *testing.T) {
	providertest.TestLocker(t, func(t *testing.T) provider.Locker { return locker(bucket(t), 1500*time.Millisecond, nil) })
}

func TestStateStoreSuite(t *testing.T) {
	providertest.TestStateStore(t, func(t *testing.T) provider.StateStore { return &s3state.State{B: bucket(t)} })
}

func TestHistoryLogSuite(t *testing.T) {
	providertest.TestHistoryLog(t, func(t *testing.T) provider.HistoryLog { return &s3state.History{B: bucket(t)} })
}

func TestRenewedLockStaysExpiredLockIsTakenOver(t *testing.T) {
	b := bucket(t)
	ann := provider.Holder{Actor: "ann", Host: "a", PID: 1, Command: "rollout green", Since: time.Now()}
	bob := provider.Holder{Actor: "bob", Host: "b", PID: 2, Command: "maintenance on", Since: time.Now()}
	rel, err := locker(b, 300*time.Millisecond, nil).Acquire(t.Context(), ann)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // three TTLs: only renewal keeps it
	var le *provider.LockedError
	if _, err := locker(b, 300*time.Millisecond, nil).Acquire(t.Context(), bob); !errors.As(err, &le) || le.Holder.Actor != "ann" {
		t.Fatalf("Acquire while ann renews: %v", err)
	}
	rel()

	// A holder that stops renewing (a crash: its command's context ends
	// without release): its lock object stays behind.
	crashed := locker(b, 200*time.Millisecond, nil)
	crashed.Now = func() time.Time { return time.Now().Add(time.Hour) } // a clock far ahead changes nothing
	ctx, crash := context.WithCancel(t.Context())
	if _, err := crashed.Acquire(ctx, ann); err != nil {
		t.Fatal(err)
	}
	crash()
	var notes []string
	rel2, err := locker(b, time.Minute, &notes).Acquire(t.Context(), bob)
	if err != nil || len(notes) != 2 || !strings.HasPrefix(notes[1], "took over") {
		t.Fatalf("take over an expired lock: %v, notes %v", err, notes)
	}
	defer rel2()
	h, err := locker(b, time.Minute, nil).Holder(t.Context())
	if err != nil || h == nil || h.Actor != "bob" {
		t.Fatalf("holder after takeover %+v, %v", h, err)
	}
}

func TestWithoutABucketTheStateFolderServes(t *testing.T) {
	env := provider.Env{Name: "production", StateDir: t.TempDir()}
	none := func(any) error { return nil }
	l, err := s3state.NewLocker(t.Context(), env, none)
	if _, ok := l.(*statefs.Locker); err != nil || !ok {
		t.Fatalf("NewLocker without state.bucket = %T, %v; want the local locker", l, err)
	}
	if s, err := s3state.NewState(t.Context(), env, none); err != nil {
		t.Fatal(err)
	} else if _, ok := s.(*statefs.Store); !ok {
		t.Fatalf("NewState = %T", s)
	}
}
