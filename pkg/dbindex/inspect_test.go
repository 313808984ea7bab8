package dbindex_test

import (
	"strings"
	"testing"

	"github.com/deployctl/deployctl/pkg/dbindex"
)

func TestInspectFindsEveryKind(t *testing.T) {
	url := fixture(t)
	r := inspect(t, url, 30)
	if r.Pgstattuple || r.Database == "" {
		t.Errorf("pgstattuple %v, database %q", r.Pgstattuple, r.Database)
	}
	if got := names(r.Unused); got != "public.accounts_email_idx public.accounts_tenant_idx public.bloaty_v_idx" {
		t.Errorf("unused: %q (constraint indexes, scanned and invalid ones must not be listed)", got)
	}
	if len(r.Duplicate) != 1 || r.Duplicate[0].Label() != "public.accounts_email_idx" || r.Duplicate[0].CoveredBy != "public.accounts_email_key" {
		t.Errorf("duplicate: %+v", r.Duplicate)
	}
	if len(r.Overlapping) != 1 || r.Overlapping[0].Label() != "public.accounts_tenant_idx" || r.Overlapping[0].CoveredBy != "public.accounts_tenant_created_idx" {
		t.Errorf("overlapping: %+v", r.Overlapping)
	}
	if len(r.Invalid) != 1 || r.Invalid[0].Label() != "public.accounts_tenant_uniq" || r.Invalid[0].Leftover || r.Invalid[0].InProgress {
		t.Errorf("invalid: %+v", r.Invalid)
	}
	if len(r.Bloated) != 1 || r.Bloated[0].Label() != "public.bloaty_v_idx" || r.Bloated[0].BloatMethod != dbindex.MethodEstimate || r.Bloated[0].BloatPercent < 60 {
		t.Fatalf("bloated: %+v", r.Bloated)
	}
	t.Logf("estimate: %s %d bytes, %.1f%% (%d bytes) bloat", r.Bloated[0].Label(), r.Bloated[0].SizeBytes, r.Bloated[0].BloatPercent, r.Bloated[0].BloatBytes)
	if r := inspect(t, url, 95); len(r.Bloated) != 0 {
		t.Errorf("min bloat 95%%: %+v", r.Bloated)
	}
}

func TestInspectMeasuresWithPgstattuple(t *testing.T) {
	url := fixture(t)
	exec(t, connect(t, url), "CREATE EXTENSION pgstattuple")
	r := inspect(t, url, 30)
	if !r.Pgstattuple || len(r.Bloated) != 1 || r.Bloated[0].BloatMethod != dbindex.MethodPgstattuple || r.Bloated[0].BloatPercent < 60 {
		t.Fatalf("bloated with pgstattuple: %+v", r.Bloated)
	}
	t.Logf("pgstattuple: %s %.1f%% bloat", r.Bloated[0].Label(), r.Bloated[0].BloatPercent)
	if all := inspect(t, url, 0); strings.Contains(names(all.Bloated), "accounts_pkey") {
		t.Errorf("an index under %d bytes is listed as bloated: %s", dbindex.MinBloatSize, names(all.Bloated))
	}
}
