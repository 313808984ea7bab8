package backup

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// DatabaseSettings are what belongs to the database itself rather than to
// its objects, so that pg_dump without --create leaves it out: the
// settings of ALTER DATABASE … SET and ALTER ROLE … IN DATABASE … SET
// ("name=value", as pg_db_role_setting holds them) and COMMENT ON
// DATABASE. Create records them; restore replays them on the target
// database under the target's name.
type DatabaseSettings struct {
	Database []string      `json:"database"`
	Roles    []RoleSetting `json:"roles"`
	Comment  *string       `json:"comment"`
}

// RoleSetting is the settings of one role in the database.
type RoleSetting struct {
	Role     string   `json:"role"`
	Settings []string `json:"settings"`
}

// readSettings reads the database-level settings and comment of the
// current database.
func readSettings(ctx context.Context, q pgx.Tx) (*DatabaseSettings, error) {
	s := &DatabaseSettings{Database: []string{}, Roles: []RoleSetting{}}
	rows, err := q.Query(ctx, `SELECT coalesce(r.rolname, ''), s.setconfig FROM pg_db_role_setting s
		LEFT JOIN pg_roles r ON r.oid = s.setrole
		WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
		ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("read the database's settings: %w", err)
	}
	var role string
	var conf []string
	_, err = pgx.ForEachRow(rows, []any{&role, &conf}, func() error {
		if role == "" {
			s.Database = conf
		} else {
			s.Roles = append(s.Roles, RoleSetting{Role: role, Settings: conf})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the database's settings: %w", err)
	}
	err = q.QueryRow(ctx, "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = current_database()").Scan(&s.Comment)
	if err != nil {
		return nil, fmt.Errorf("read the database's comment: %w", err)
	}
	return s, nil
}

// replaySettings applies s to the database of conn. A role that does not
// exist there, or a setting the target refuses, is a warning: the data is
// restored all the same.
func replaySettings(ctx context.Context, conn *pgx.Conn, s *DatabaseSettings) (warnings []string, err error) {
	if s == nil {
		return nil, nil
	}
	var db string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
		return nil, err
	}
	target := pgx.Identifier{db}.Sanitize()
	apply := func(what, stmt string) error {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			warnings = append(warnings, fmt.Sprintf("%s not restored: %v", what, err))
		}
		return nil
	}
	for _, kv := range s.Database {
		if err := apply("database setting "+kv, "ALTER DATABASE "+target+" SET "+setClause(kv)); err != nil {
			return warnings, err
		}
	}
	for _, r := range s.Roles {
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", r.Role).Scan(&exists); err != nil {
			return warnings, err
		}
		if !exists {
			warnings = append(warnings, fmt.Sprintf("role %s does not exist on the target: its settings in the database (%s) are not restored; create the role and re-run, or set them by hand",
				r.Role, strings.Join(r.Settings, ", ")))
			continue
		}
		for _, kv := range r.Settings {
			stmt := "ALTER ROLE " + pgx.Identifier{r.Role}.Sanitize() + " IN DATABASE " + target + " SET " + setClause(kv)
			if err := apply("setting "+kv+" of role "+r.Role, stmt); err != nil {
				return warnings, err
			}
		}
	}
	if s.Comment != nil {
		if err := apply("the database's comment", "COMMENT ON DATABASE "+target+" IS "+literal(*s.Comment)); err != nil {
			return warnings, err
		}
	}
	return warnings, nil
}

// listQuoted are the settings whose value is a list of quoted elements
// (pg_dump's variable_is_guc_list_quote).
var listQuoted = map[string]bool{"local_preload_libraries": true, "search_path": true, "session_preload_libraries": true,
	"shared_preload_libraries": true, "temp_tablespaces": true, "unix_socket_directories": true}

// setClause turns "name=value" into "name TO value" as pg_dump writes it:
// a list setting element by element, anything else as one literal.
func setClause(kv string) string {
	name, value, _ := strings.Cut(kv, "=")
	ident := pgx.Identifier{name}.Sanitize()
	if strings.Contains(name, ".") { // a custom setting: ext.name
		ident = name
	}
	if !listQuoted[strings.ToLower(name)] {
		return ident + " TO " + literal(value)
	}
	var parts []string
	for _, elem := range splitList(value) {
		parts = append(parts, literal(elem))
	}
	if len(parts) == 0 {
		return ident + " TO ''"
	}
	return ident + " TO " + strings.Join(parts, ", ")
}

// splitList splits a list setting ("app, \"$user\", public") into its
// elements, without the double quotes (SplitGUCList).
func splitList(v string) []string {
	var out []string
	var cur strings.Builder
	inQuote, started := false, false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case inQuote && c == '"' && i+1 < len(v) && v[i+1] == '"':
			cur.WriteByte('"')
			i++
		case c == '"':
			inQuote, started = !inQuote, true
		case !inQuote && c == ',':
			out = append(out, strings.TrimRight(cur.String(), " \t"))
			cur.Reset()
			started = false
		case !inQuote && (c == ' ' || c == '\t') && !started:
		default:
			cur.WriteByte(c)
			started = true
		}
	}
	if started || cur.Len() > 0 {
		out = append(out, strings.TrimRight(cur.String(), " \t"))
	}
	return out
}

// literal quotes s as an SQL string literal.
func literal(s string) string {
	if strings.Contains(s, `\`) {
		return "E'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", "''") + "'"
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
