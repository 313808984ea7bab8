package lock

import (
	"context"
	"errors"
	"testing"

	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/provider/local/statefs"
)

func TestDoReleasesAfterFailureAndRefusesSecond(t *testing.T) {
	l := &statefs.Locker{Dir: t.TempDir()}
	boom := errors.New("boom")
	err := Do(t.Context(), l, provider.Holder{Actor: "ann"}, func(ctx context.Context) error {
		if h := Holder(ctx, l); h == nil || h.Actor != "ann" {
			t.Errorf("Holder inside = %+v", h)
		}
		err := Do(ctx, l, provider.Holder{Actor: "bob"}, func(context.Context) error { return nil })
		var le *provider.LockedError
		if !errors.As(err, &le) || le.Holder.Actor != "ann" {
			t.Errorf("nested Do: %v", err)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Do = %v", err)
	}
	if h := Holder(t.Context(), l); h != nil {
		t.Fatalf("lock still held by %+v after Do", h)
	}
}
