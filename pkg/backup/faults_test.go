package backup_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deployctl/deployctl/pkg/backup"
)

// An edited manifest (valid JSON, its manifest_sha256 no longer matching)
// is refused before the target is touched, with verify's own message.
func TestRestoreRefusesAnEditedManifest(t *testing.T) {
	src := pg.NewDatabase(t)
	seed(t, src, 2000)
	e, st := newEngine(t)
	m := mustCreate(t, e, src)
	editManifest(t, st.Dir, m)
	edited, err := backup.Load(t.Context(), st, m.ID)
	must(t, err)
	want := backup.CheckManifest(edited)
	if want == nil {
		t.Fatal("CheckManifest accepts an edited manifest")
	}
	vres, err := e.Verify(t.Context(), edited, backup.VerifyOptions{Level: backup.LevelChecksum})
	must(t, err)
	if !strings.Contains(strings.Join(vres.Problems, "\n"), want.Error()) {
		t.Errorf("verify does not give the shared message %q: %q", want, vres.Problems)
	}
	dst := pg.NewDatabase(t)
	_, err = e.Restore(t.Context(), edited, backup.RestoreOptions{TargetURL: dst, Jobs: 2})
	if err == nil || !strings.Contains(err.Error(), want.Error()) {
		t.Fatalf("restore of an edited manifest: %v, want %q", err, want)
	}
	if n, err := backup.TargetObjects(t.Context(), dst); err != nil || n != 0 {
		t.Errorf("the target was touched: %d objects (%v)", n, err)
	}
	if n, err := backup.TargetObjects(t.Context(), dst); err == nil && n == 0 {
		// and --clean does not make it acceptable either
		_, err := e.Restore(t.Context(), edited, backup.RestoreOptions{TargetURL: dst, Clean: true})
		if err == nil {
			t.Error("restore --clean of an edited manifest succeeded")
		}
	}
}

// The dump's sha256 is checked before the target is touched, also when the
// target is not empty and --clean would drop its objects.
func TestRestoreChecksTheDumpBeforeClean(t *testing.T) {
	src := pg.NewDatabase(t)
	seed(t, src, 100)
	e, st := newEngine(t)
	m := mustCreate(t, e, src)
	dst := pg.NewDatabase(t)
	exec(t, dst, "CREATE TABLE keepme (id int); INSERT INTO keepme VALUES (1)")
	flip(0.5)(t, st.Dir, m)
	_, err := e.Restore(t.Context(), m, backup.RestoreOptions{TargetURL: dst, Clean: true})
	if err == nil || !strings.Contains(err.Error(), "corrupted") {
		t.Fatalf("restore of a corrupted dump: %v", err)
	}
	if n, _ := queryInt(t.Context(), dst, "SELECT count(*) FROM keepme"); n != 1 {
		t.Errorf("the target was changed: %d rows", n)
	}
}

// Only a verification at level restore proves a backup restores: prune
// keeps the newest of those whatever newer backups were checksummed.
func TestPlanKeepsNewestRestoreVerified(t *testing.T) {
	c := catalog("2026-11-25T03:00:00Z", "2026-11-24T03:00:00Z", "2026-11-23T03:00:00Z", "2026-11-22T03:00:00Z")
	c.Backups[1].Verification = &backup.Verification{Level: backup.LevelChecksum, OK: true}
	c.Backups[2].Verification = &backup.Verification{Level: backup.LevelArchive, OK: true}
	c.Backups[3].Verification = &backup.Verification{Level: backup.LevelRestore, OK: true}
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	p := backup.Plan(c, backup.Policy{}, now)
	if got := decisions(p); got != "+20261125 -20261124 -20261123 +20261122" {
		t.Errorf("keep the newest and the newest restore-verified: %s", got)
	}
	if kb := p.Backups[3].KeptBy; len(kb) != 1 || kb[0] != backup.KeptByVerified {
		t.Errorf("kept_by of the restore-verified backup: %q", kb)
	}
	if kb := p.Backups[0].KeptBy; len(kb) != 1 || kb[0] != backup.KeptByNewest {
		t.Errorf("kept_by of the newest: %q", kb)
	}
	p = backup.Plan(c, backup.Policy{Daily: 1}, now)
	if kb := strings.Join(p.Backups[0].KeptBy, ","); kb != "newest,daily" {
		t.Errorf("kept_by of the newest under daily 1: %q", kb)
	}
}

const matviewSQL = `
CREATE TABLE items (id int PRIMARY KEY, kind text);
INSERT INTO items SELECT g, CASE WHEN g % 3 = 0 THEN 'a' ELSE 'b' END FROM generate_series(1, 300) g;
CREATE MATERIALIZED VIEW app_kinds AS SELECT id FROM items WHERE kind = 'a';
CREATE MATERIALIZED VIEW app_lazy AS SELECT id FROM items WITH NO DATA;
INSERT INTO items SELECT g, 'a' FROM generate_series(301, 330) g;`

// Materialized views are in the manifest with the rows a restore gives
// them (the stale view above is refreshed by the restore: 130 rows), a
// WITH NO DATA view as not populated, and verify checks both.
func TestMaterializedViewsAreCounted(t *testing.T) {
	src := pg.NewDatabase(t)
	exec(t, src, matviewSQL)
	e, st := newEngine(t)
	m := mustCreate(t, e, src)
	got := map[string]backup.TableCount{}
	for _, tc := range m.Tables {
		got[tc.QualifiedName()] = tc
	}
	if v, ok := got["public.app_kinds"]; !ok || v.Kind != backup.KindMatview || v.Rows != 130 || v.NoData {
		t.Errorf("manifest entry of the stale materialized view: %+v (present %v), want 130 rows", v, ok)
	}
	if v, ok := got["public.app_lazy"]; !ok || !v.NoData || v.Rows != 0 {
		t.Errorf("manifest entry of the WITH NO DATA view: %+v (present %v)", v, ok)
	}
	res, err := e.Verify(t.Context(), m, backup.VerifyOptions{Level: backup.LevelRestore, ServerURL: src})
	if err != nil || !res.Verification.OK {
		t.Fatalf("verify with materialized views: %v %+v", err, res)
	}
	dst := pg.NewDatabase(t)
	rres, err := e.Restore(t.Context(), m, backup.RestoreOptions{TargetURL: dst})
	if err != nil || len(rres.Problems) > 0 {
		t.Fatalf("restore with materialized views: %v %+v", err, rres)
	}
	if n, _ := queryInt(t.Context(), dst, "SELECT count(*) FROM app_kinds"); n != 130 {
		t.Errorf("restored materialized view: %d rows", n)
	}
	// a manifest that says otherwise (resealed: a consistent lie) fails verify
	for i, tc := range m.Tables {
		if tc.Name == "app_kinds" {
			m.Tables[i].Rows = 7
		}
	}
	resealManifest(t, st.Dir, m)
	lied, err := backup.Load(t.Context(), st, m.ID)
	must(t, err)
	res, err = e.Verify(t.Context(), lied, backup.VerifyOptions{Level: backup.LevelRestore, ServerURL: src})
	must(t, err)
	if res.Verification.OK || !strings.Contains(strings.Join(res.Problems, "\n"), "materialized view public.app_kinds: 130 rows restored, the manifest says 7") {
		t.Errorf("verify of a wrong materialized view count: %q", res.Problems)
	}
}

func resealManifest(t *testing.T, dir string, m *backup.Manifest) {
	t.Helper()
	raw, err := backup.Seal(m)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, m.ID, backup.ManifestObject), raw, 0o600))
}

// Database-level settings and the database's comment are not in a
// pg_dump without --create: the backup carries them and a restore into a
// new database (another name) replays them there; a role missing on the
// target is a warning.
func TestDatabaseSettingsSurviveRestore(t *testing.T) {
	ctx := t.Context()
	src := pg.NewDatabase(t)
	seed(t, src, 10)
	srcName := dbName(t, src)
	for _, r := range []string{"app_reader", "app_gone"} {
		_ = pg.Exec(ctx, "postgres", "CREATE ROLE "+r)
		t.Cleanup(func() {
			_ = pg.Exec(context.Background(), "postgres", "DROP OWNED BY "+r)
		})
	}
	exec(t, src, `CREATE SCHEMA app;
ALTER DATABASE `+srcName+` SET search_path = app, "$user", public;
ALTER DATABASE `+srcName+` SET statement_timeout = '42s';
ALTER ROLE app_reader IN DATABASE `+srcName+` SET work_mem = '12MB';
ALTER ROLE app_gone IN DATABASE `+srcName+` SET work_mem = '13MB';
COMMENT ON DATABASE `+srcName+` IS 'the app''s data';`)
	e, _ := newEngine(t)
	m := mustCreate(t, e, src)
	must(t, pg.Exec(ctx, "postgres", "ALTER ROLE app_gone IN DATABASE "+srcName+" RESET ALL"))
	must(t, pg.Exec(ctx, "postgres", "DROP ROLE app_gone"))

	dst := pg.NewDatabase(t)
	res, err := e.Restore(ctx, m, backup.RestoreOptions{TargetURL: dst})
	if err != nil || len(res.Problems) > 0 {
		t.Fatalf("restore: %v %+v", err, res)
	}
	if w := strings.Join(res.Warnings, "\n"); !strings.Contains(w, "app_gone") || strings.Contains(w, "app_reader") {
		t.Errorf("warnings about missing roles: %q", res.Warnings)
	}
	conn, err := pgx.Connect(ctx, dst)
	must(t, err)
	defer conn.Close(context.Background())
	var dbSettings, roleSettings []string
	var comment *string
	must(t, conn.QueryRow(ctx, `SELECT coalesce((SELECT setconfig FROM pg_db_role_setting
		WHERE setrole = 0 AND setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())), '{}')`).Scan(&dbSettings))
	must(t, conn.QueryRow(ctx, `SELECT coalesce((SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole
		WHERE r.rolname = 'app_reader' AND setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())), '{}')`).Scan(&roleSettings))
	must(t, conn.QueryRow(ctx, "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = current_database()").Scan(&comment))
	if got := strings.Join(dbSettings, ";"); got != `search_path=app, "$user", public;statement_timeout=42s` {
		t.Errorf("database settings after restore: %q", got)
	}
	if got := strings.Join(roleSettings, ";"); got != "work_mem=12MB" {
		t.Errorf("role settings in the database after restore: %q", got)
	}
	if comment == nil || *comment != "the app's data" {
		t.Errorf("database comment after restore: %v", comment)
	}
}

func dbName(t *testing.T, url string) string {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	must(t, err)
	defer conn.Close(context.Background())
	var name string
	must(t, conn.QueryRow(t.Context(), "SELECT current_database()").Scan(&name))
	return pgx.Identifier{name}.Sanitize()
}

// A restore into a target that an unfinished restore marked ends that
// restore's sessions (the backstop of the supervisor), refuses without
// --clean naming who left it, and replaces it with --clean.
func TestRestoreEndsTheSessionsOfAnUnfinishedRestore(t *testing.T) {
	ctx := t.Context()
	src := pg.NewDatabase(t)
	seed(t, src, 10)
	e, _ := newEngine(t)
	m := mustCreate(t, e, src)
	dst := pg.NewDatabase(t)
	exec(t, dst, `CREATE TABLE public.deployctl_restore_in_progress (restore_id text, backup text, actor text, host text, pid int, started timestamptz);
INSERT INTO public.deployctl_restore_in_progress VALUES ('dead1', 'some-backup', 'bob', 'elsewhere', 1, '2026-11-25 03:00:00+00')`)
	cfg, err := pgx.ParseConfig(dst)
	must(t, err)
	cfg.RuntimeParams["application_name"] = backup.AppRestore + "dead1"
	left, err := pgx.ConnectConfig(ctx, cfg)
	must(t, err)
	defer left.Close(context.Background())
	go func() { _, _ = left.Exec(context.Background(), "SELECT pg_sleep(60)") }()
	sessions := "SELECT count(*) FROM pg_stat_activity WHERE application_name = '" + backup.AppRestore + "dead1'"
	for n, _ := queryInt(ctx, dst, sessions); n == 0; n, _ = queryInt(ctx, dst, sessions) {
		time.Sleep(10 * time.Millisecond)
	}
	_, err = e.Restore(ctx, m, backup.RestoreOptions{TargetURL: dst})
	if !errors.Is(err, backup.ErrHalfRestored) || !strings.Contains(err.Error(), "left half-restored by bob at 2026-11-25T03:00:00Z") {
		t.Fatalf("restore into a half-restored target: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	n, _ := queryInt(ctx, dst, sessions)
	for ; n > 0 && time.Now().Before(deadline); n, _ = queryInt(ctx, dst, sessions) {
		time.Sleep(20 * time.Millisecond)
	}
	if n != 0 {
		t.Errorf("the session of the unfinished restore was not ended")
	}
	if res, err := e.Restore(ctx, m, backup.RestoreOptions{TargetURL: dst, Clean: true}); err != nil || len(res.Problems) > 0 {
		t.Fatalf("restore --clean: %v %+v", err, res)
	}
	if n, _ := queryInt(ctx, dst, "SELECT count(*) FROM pg_class WHERE relname = 'deployctl_restore_in_progress'"); n != 0 {
		t.Error("the marker is left after a finished restore")
	}
}
