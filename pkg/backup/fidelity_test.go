package backup_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/deployctl/deployctl/pkg/backup"
)

// fidelitySchema covers the types and objects a restore must bring back
// exactly, in several schemas, without extensions.
const fidelitySchema = `
CREATE SCHEMA app; CREATE SCHEMA audit;
CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE app.people (
  id bigserial PRIMARY KEY, name text NOT NULL, mood app.mood, tags text[], scores int[],
  profile jsonb, avatar bytea, born timestamptz, ratio numeric(12,4), active boolean, doc oid);
CREATE SEQUENCE audit.ticket START 1000 INCREMENT 7;
CREATE TABLE audit.events (id int DEFAULT nextval('audit.ticket') PRIMARY KEY, person bigint REFERENCES app.people, at timestamptz DEFAULT now(), payload jsonb);
CREATE TABLE public."Mixed Case" ("Weird col" text, n int);
CREATE VIEW app.happy AS SELECT id, name FROM app.people WHERE mood = 'happy';
CREATE FUNCTION app.greet(p text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT 'hello ' || p $$;
INSERT INTO app.people (name, mood, tags, scores, profile, avatar, born, ratio, active)
SELECT 'p' || g, (ARRAY['sad','ok','happy'])[1 + g % 3]::app.mood, ARRAY['t' || g, 'x,y', NULL, 'quote"d'],
       ARRAY[g, -g, 0], jsonb_build_object('g', g, 'nested', jsonb_build_object('a', ARRAY[1,2,g]), 'u', 'é ✓ "q"'),
       decode(md5(g::text) || '00ff', 'hex'), '2026-01-01 00:00:00+00'::timestamptz + g * interval '37 minutes 13.123456 seconds',
       g / 7.0, g % 2 = 0
FROM generate_series(1, 700) g;
UPDATE app.people SET profile = NULL, tags = NULL WHERE id % 50 = 0;
INSERT INTO audit.events (person, payload) SELECT 1 + g % 700, jsonb_build_object('n', g) FROM generate_series(1, 333) g;
INSERT INTO public."Mixed Case" VALUES ('a', 1), (E'line\nbreak\ttab', 2), (NULL, NULL);
UPDATE app.people SET doc = lo_from_bytea(0, convert_to(repeat('large object ', 5000), 'UTF8')) WHERE id = 1;`

// fingerprint describes a database's content: md5 of each table's ordered
// rows, and the other objects' behaviour.
func fingerprint(t *testing.T, url string) map[string]string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	must(t, err)
	defer conn.Close(ctx)
	out := map[string]string{}
	for _, tb := range []string{"app.people", "audit.events", `public."Mixed Case"`} {
		var sum string
		q := fmt.Sprintf("SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), 'empty') FROM %s t", tb)
		must(t, conn.QueryRow(ctx, q).Scan(&sum))
		out[tb] = sum
	}
	for name, q := range map[string]string{
		"view":         "SELECT count(*)::text FROM app.happy",
		"function":     "SELECT app.greet('you')",
		"large object": "SELECT md5(lo_get(doc)) FROM app.people WHERE id = 1",
		"enum":         "SELECT string_agg(e::text, ',') FROM unnest(enum_range(NULL::app.mood)) e",
	} {
		var v string
		must(t, conn.QueryRow(ctx, q).Scan(&v))
		out[name] = v
	}
	return out
}

func TestRestoreIsFaithful(t *testing.T) {
	src := pg.NewDatabase(t)
	exec(t, src, fidelitySchema)
	e, _ := newEngine(t)
	m := mustCreate(t, e, src)
	want := fingerprint(t, src)

	dst := pg.NewDatabase(t)
	res, err := e.Restore(t.Context(), m, backup.RestoreOptions{TargetURL: dst, Jobs: 2})
	if err != nil || len(res.Problems) > 0 {
		t.Fatalf("restore: %+v, %v", res, err)
	}
	got := fingerprint(t, dst)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s differs after restore: %q, want %q", k, got[k], v)
		}
	}
	// sequences continue where they were: the next values are the same
	for _, seq := range []string{"audit.ticket", "app.people_id_seq"} {
		q := fmt.Sprintf("SELECT nextval('%s')", seq)
		a, _ := queryInt(t.Context(), src, q)
		b, _ := queryInt(t.Context(), dst, q)
		if a != b || a == 0 {
			t.Errorf("sequence %s: next value %d after restore, %d in the source", seq, b, a)
		}
	}
}
