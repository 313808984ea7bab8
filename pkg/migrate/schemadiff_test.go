package migrate

import (
	"strings"
	"testing"
)

func TestNormalizeSchema(t *testing.T) {
	dump := `--
-- PostgreSQL database dump
--
\restrict Xy12randomkey

SET statement_timeout = 0;
SELECT pg_catalog.set_config('search_path', '', false);

CREATE TABLE public.users (
    id bigint NOT NULL,
    name text,
    email text
);

CREATE INDEX a_idx ON public.users USING btree (email);

\unrestrict Xy12randomkey
`
	got := strings.Join(normalizeSchema(dump), "\n")
	want := "CREATE INDEX a_idx ON public.users USING btree (email);\nCREATE TABLE public.users (\n    email text\n    id bigint NOT NULL\n    name text\n);"
	if got != want {
		t.Errorf("normalised:\n%s\nwant:\n%s", got, want)
	}
}

func TestUnifiedDiff(t *testing.T) {
	a := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i"}
	b := []string{"a", "b", "c", "D", "e", "f", "g", "h", "i", "j"}
	got := unifiedDiff("before", "after", a, b)
	want := "--- before\n+++ after\n@@ -2,5 +2,5 @@\n b\n c\n-d\n+D\n e\n f\n@@ -8,2 +8,3 @@\n h\n i\n+j\n"
	if got != want {
		t.Errorf("diff:\n%s\nwant:\n%s", got, want)
	}
	if d := unifiedDiff("x", "y", a, a); d != "" {
		t.Errorf("equal inputs give %q", d)
	}
}
