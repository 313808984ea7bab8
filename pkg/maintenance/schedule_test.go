package maintenance

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
)

func TestScheduleAnnouncesAndRecords(t *testing.T) {
	v := newEnv(t)
	v.withMail(nil)
	ctx := t.Context()
	res, err := v.e.Schedule(ctx, ScheduleRequest{Start: t0.Add(24 * time.Hour), Duration: time.Hour, Message: "Database upgrade"})
	if err != nil {
		t.Fatal(err)
	}
	w := res.Window
	if w.ID != "20261126-2100" || w.AnnouncedAt == nil || len(w.AnnouncedTo) != 2 {
		t.Fatalf("window %+v", w)
	}
	if len(v.mails) != 1 || !strings.Contains(v.mails[0], "Scheduled maintenance of production: Thu, 26 Nov 2026 21:00-22:00 UTC") ||
		!strings.Contains(v.mails[0], "Database upgrade") || !strings.Contains(v.mails[0], "2026-11-26T22:00:00Z") {
		t.Fatalf("mail %q", v.mails)
	}
	ws, err := v.e.Windows(ctx)
	if err != nil || len(ws) != 1 || ws[0].State != StateUpcoming || ws[0].ID != w.ID {
		t.Fatalf("list %+v %v", ws, err)
	}
	_, err = v.e.Schedule(ctx, ScheduleRequest{Start: t0.Add(24*time.Hour + 30*time.Minute), Duration: time.Hour})
	var overlap *OverlapError
	if !errors.As(err, &overlap) || overlap.With.ID != w.ID {
		t.Fatalf("overlap: %v", err)
	}
	if len(v.mails) != 1 {
		t.Fatal("an overlapping window was announced")
	}
	if es := v.entries(t); len(es) != 1 || es[0].Command != "maintenance schedule" {
		t.Fatalf("history %+v", es)
	}
}

func TestScheduleMailFailureRecordsNothing(t *testing.T) {
	v := newEnv(t)
	v.withMail(provider.Unreachable("SMTP server mail.example.com:587", errors.New("connection refused")))
	_, err := v.e.Schedule(t.Context(), ScheduleRequest{Start: t0.Add(time.Hour), Duration: time.Hour})
	var unreach *provider.UnreachableError
	if !errors.As(err, &unreach) || !strings.Contains(err.Error(), "window not recorded") {
		t.Fatalf("err = %v", err)
	}
	if ws, _ := v.e.Windows(t.Context()); len(ws) != 0 {
		t.Fatalf("recorded %+v", ws)
	}
}

func TestScheduleWithoutRecipientsRecordsUnannounced(t *testing.T) {
	v := newEnv(t)
	res, err := v.e.Schedule(t.Context(), ScheduleRequest{Start: t0.Add(time.Hour), Duration: 30 * time.Minute})
	if err != nil || res.Window.AnnouncedAt != nil {
		t.Fatalf("%+v %v", res, err)
	}
}

func TestWindowStatesAndCancel(t *testing.T) {
	v := newEnv(t)
	v.withMail(nil)
	ctx := t.Context()
	a, _ := v.e.Schedule(ctx, ScheduleRequest{Start: t0.Add(time.Hour), Duration: time.Hour, Message: "a"})
	b, _ := v.e.Schedule(ctx, ScheduleRequest{Start: t0.Add(time.Hour), Duration: time.Hour, Message: "b"})
	if b.Window.ID != "" {
		t.Fatalf("same slot accepted twice: %+v", b)
	}
	c, err := v.e.Schedule(ctx, ScheduleRequest{Start: t0.Add(5 * time.Hour), Duration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	v.clk.Advance(90 * time.Minute) // inside window a, maintenance off
	states := func() string {
		ws, _ := v.e.Windows(ctx)
		var s []string
		for _, w := range ws {
			s = append(s, w.State)
		}
		return strings.Join(s, ",")
	}
	if got := states(); got != "due,upcoming" {
		t.Fatalf("states %s", got)
	}
	v.e.On(ctx, OnRequest{})
	if got := states(); got != "in-progress,upcoming" {
		t.Fatalf("states %s", got)
	}
	v.clk.Advance(time.Hour)
	if got := states(); got != "overdue,upcoming" {
		t.Fatalf("states %s", got)
	}
	if s, _ := v.e.Status(ctx); len(s.Windows) != 2 || s.Windows[0].State != StateOverdue {
		t.Fatalf("status windows %+v", s.Windows)
	}
	if _, err := v.e.Cancel(ctx, c.Window.ID, false); err != nil {
		t.Fatal(err)
	}
	if len(v.mails) != 3 || !strings.HasPrefix(v.mails[2], "Cancelled: maintenance of production") {
		t.Fatalf("mails %q", v.mails)
	}
	var nf *NotFoundError
	if _, err := v.e.Cancel(ctx, c.Window.ID, false); !errors.As(err, &nf) {
		t.Fatalf("second cancel: %v", err)
	}
	if got := states(); got != "overdue" || a.Window.ID == "" {
		t.Fatalf("after cancel: %s", got)
	}
}

func TestMalformedWindowsState(t *testing.T) {
	v := newEnv(t)
	path := filepath.Join(v.dir, "state", WindowsKey+".json")
	os.MkdirAll(filepath.Dir(path), 0o700)
	os.WriteFile(path, []byte("{not json"), 0o600)
	if _, err := v.e.Windows(t.Context()); err == nil || !strings.Contains(err.Error(), "not valid JSON") {
		t.Fatalf("err = %v", err)
	}
}

func TestBareOnUsesTheCurrentWindow(t *testing.T) {
	v := newEnv(t)
	ctx := t.Context()
	if _, err := v.e.Schedule(ctx, ScheduleRequest{Start: t0.Add(time.Hour), Duration: time.Hour, Message: "Database upgrade"}); err != nil {
		t.Fatal(err)
	}
	v.clk.Advance(time.Hour + time.Minute)
	if _, err := v.e.On(ctx, OnRequest{}); err != nil {
		t.Fatal(err)
	}
	if st := v.sw.st; st.Message != "Database upgrade" || !st.Until.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("state %+v", st)
	}
	v.e.Off(ctx, false)
	if _, err := v.e.On(ctx, OnRequest{Message: "other"}); err != nil || !v.sw.st.Until.IsZero() {
		t.Fatalf("an explicit message must not take the window's end: %+v", v.sw.st)
	}
}
