package db

import (
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/testkit/cmdtest"
)

func TestParseStatus(t *testing.T) {
	var got *StatusOptions
	fl := &Flags{DatabaseURL: "postgres://p"}
	cmd := NewCmdStatus(cmdtest.Factory(), fl, func(o *StatusOptions) error { got = o; return nil })
	if err := cmdtest.Execute(cmd, "--replica-url", "postgres://a", "--replica-url", "postgres://b,c", "--max-lag", "30s"); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got.ReplicaURLs, " ") != "postgres://a postgres://b,c" || got.Flags.DatabaseURL != "postgres://p" || got.MaxLag != 30*time.Second {
		t.Fatalf("%+v", got)
	}
	if err := cmdtest.Execute(NewCmdStatus(cmdtest.Factory(), fl, func(*StatusOptions) error { return nil }), "extra"); app.ExitCode(err) != 2 {
		t.Fatalf("extra argument: %v", err)
	}
}

func TestParsePromote(t *testing.T) {
	var got *PromoteOptions
	cmd := NewCmdPromote(cmdtest.Factory(), &Flags{}, func(o *PromoteOptions) error { got = o; return nil })
	if err := cmdtest.Execute(cmd, "postgres://replica", "--force", "--wait", "30s"); err != nil {
		t.Fatal(err)
	}
	if got.ReplicaURL != "postgres://replica" || !got.Force || got.Wait != 30*time.Second {
		t.Fatalf("%+v", got)
	}
	for _, args := range [][]string{{}, {"a", "b"}, {" "}, {"postgres://r", "--wait", "0s"}, {"postgres://r", "--nope"}} {
		err := cmdtest.Execute(NewCmdPromote(cmdtest.Factory(), &Flags{}, func(*PromoteOptions) error { t.Fatal("ran"); return nil }), args...)
		if app.ExitCode(err) != 2 {
			t.Errorf("%q: exit %d (%v); want 2", args, app.ExitCode(err), err)
		}
	}
}

func TestParseIndexesAndReindex(t *testing.T) {
	var ix *IndexesOptions
	if err := cmdtest.Execute(NewCmdIndexes(cmdtest.Factory(), &Flags{}, func(o *IndexesOptions) error { ix = o; return nil }), "--min-bloat", "12.5%"); err != nil || ix.MinBloat != 12.5 {
		t.Fatalf("indexes --min-bloat 12.5%%: %v %+v", err, ix)
	}
	var got *ReindexOptions
	cmd := NewCmdReindex(cmdtest.Factory(), &Flags{}, func(o *ReindexOptions) error { got = o; return nil })
	if err := cmdtest.Execute(cmd); err != nil || got.MinBloat != 30 || got.Apply || got.LockTimeout != 5*time.Second {
		t.Fatalf("defaults: %v %+v", err, got)
	}
	cmd = NewCmdReindex(cmdtest.Factory(), &Flags{}, func(o *ReindexOptions) error { got = o; return nil })
	if err := cmdtest.Execute(cmd, "--min-bloat", "50", "--apply", "--lock-timeout", "2s"); err != nil || got.MinBloat != 50 || !got.Apply || got.LockTimeout != 2*time.Second {
		t.Fatalf("%v %+v", err, got)
	}
	for _, args := range [][]string{{"--min-bloat", "101%"}, {"--min-bloat", "-5"}, {"--min-bloat", "abc"}, {"--min-bloat", "30%%"}, {"--min-bloat", "NaN"},
		{"--min-bloat", ""}, {"--lock-timeout", "0s"}, {"--lock-timeout", "-1s"}, {"extra"}} {
		err := cmdtest.Execute(NewCmdReindex(cmdtest.Factory(), &Flags{}, func(*ReindexOptions) error { t.Fatal("ran"); return nil }), args...)
		if app.ExitCode(err) != 2 {
			t.Errorf("reindex %q: exit %d (%v); want 2", args, app.ExitCode(err), err)
		}
	}
}
