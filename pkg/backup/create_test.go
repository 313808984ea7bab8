package backup_test

import (
	"strings"
	"testing"

	"github.com/deployctl/deployctl/pkg/backup"
)

func TestCreateListVerifyEveryLevel(t *testing.T) {
	url := pg.NewDatabase(t)
	seed(t, url, 500)
	e, st := newEngine(t)
	m := mustCreate(t, e, url)
	if m.SizeBytes == 0 || len(m.SHA256) != 64 || m.ServerVersion == "" || !strings.Contains(m.PgDumpVersion, "pg_dump") {
		t.Fatalf("manifest lacks facts: %+v", m)
	}
	want := map[string]int64{"public.users": 500, "public.orders": 1000}
	for _, tc := range m.Tables {
		if want[tc.QualifiedName()] != tc.Rows {
			t.Errorf("%s: %d rows in the manifest, want %d", tc.QualifiedName(), tc.Rows, want[tc.QualifiedName()])
		}
	}
	if strings.Contains(m.Database, "pgtest") {
		t.Errorf("manifest holds the password: %s", m.Database)
	}
	list, err := backup.List(t.Context(), st)
	if err != nil || len(list) != 1 || list[0].ID != m.ID || list[0].Verification != nil {
		t.Fatalf("List = %+v, %v", list, err)
	}
	for _, level := range []string{backup.LevelChecksum, backup.LevelArchive, backup.LevelRestore} {
		res, err := e.Verify(t.Context(), &list[0], backup.VerifyOptions{Level: level, ServerURL: url})
		if err != nil || len(res.Problems) > 0 || !res.Verification.OK {
			t.Fatalf("verify %s: %+v, %v", level, res, err)
		}
		list, _ = backup.List(t.Context(), st)
		if v := list[0].Verification; v == nil || v.Level != level || !v.OK {
			t.Fatalf("after verify %s, list shows %+v", level, v)
		}
	}
}

func TestManifestRecordsMigrationVersion(t *testing.T) {
	url := pg.NewDatabase(t)
	exec(t, url, `CREATE TABLE goose_db_version (id serial, version_id bigint, is_applied boolean, tstamp timestamp DEFAULT now());
INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (1, true), (2, true), (3, true), (3, false);`)
	e, _ := newEngine(t)
	m := mustCreate(t, e, url)
	if m.MigrationVersion == nil || *m.MigrationVersion != 2 {
		t.Errorf("migration version %v, want 2 (3 was rolled back)", m.MigrationVersion)
	}
	plain := mustCreate(t, e, pg.NewDatabase(t))
	if plain.MigrationVersion != nil {
		t.Errorf("a database without migrations has version %d", *plain.MigrationVersion)
	}
}

func TestCreateWithoutPgDumpLeavesNothing(t *testing.T) {
	e, st := newEngine(t)
	e.Tools.PgDump = "/nonexistent/pg_dump"
	_, err := e.Create(t.Context(), backup.CreateOptions{DatabaseURL: pg.NewDatabase(t)})
	if err == nil || !strings.Contains(err.Error(), "install the PostgreSQL client") {
		t.Fatalf("create without pg_dump: %v", err)
	}
	if objs, _ := st.List(t.Context(), ""); len(objs) != 0 {
		t.Fatalf("left %v", objs)
	}
}
