package envspec

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"unicode/utf8"
)

// Redact describes a secret value without revealing it:
// "set (44 chars, sha256:3f2a…)". Four hex digits of the hash let people
// tell two values apart without making a dictionary attack worthwhile.
func Redact(value string) string {
	if value == "" {
		return "empty"
	}
	n, unit := utf8.RuneCountInString(value), "chars"
	if n == 1 {
		unit = "char"
	}
	return fmt.Sprintf("set (%d %s, sha256:%s…)", n, unit, Hash(value)[:4])
}

// Hash is the full hex sha256 of value, for comparing secrets (never shown).
func Hash(value string) string {
	sum := sha256.Sum256([]byte(value))
	return hex.EncodeToString(sum[:])
}

// Display is what people may see of a variable's value: the value itself
// for an ordinary variable (with any password inside a URL masked), and
// Redact for a secret, with the URL minus its credentials for a secret URL
// so that operators still see which server it points at.
func Display(v *Var, value string) string {
	if v == nil || v.Secret {
		if v != nil && v.Type == URL {
			if safe, ok := urlWithoutSecrets(value); ok {
				return safe + " " + Redact(value)
			}
		}
		return Redact(value)
	}
	if v.Type == URL && hasCredentials(value) {
		if safe, ok := urlWithoutSecrets(value); ok {
			return safe
		}
		return Redact(value)
	}
	return value
}

// urlWithoutSecrets returns the URL with user info and query dropped.
func urlWithoutSecrets(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", false
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	u.RawQuery, u.Fragment, u.Opaque = "", "", ""
	return u.String(), true
}

// hasCredentials reports whether a URL carries a password.
func hasCredentials(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return true // cannot tell: assume it does
	}
	_, pw := u.User.Password()
	return pw || u.Query().Has("password")
}
