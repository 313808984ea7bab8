package notify

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// The target types.
const (
	TypeWebhook = "webhook"
	TypeSlack   = "slack"
	TypeEmail   = "email"
)

// Types lists the target types.
func Types() []string { return []string{TypeWebhook, TypeSlack, TypeEmail} }

// Target is one configured destination. URL and Secret may be given
// directly or, since they are often secrets, through the name of a variable
// (URLFrom, SecretFrom) resolved when an event is sent.
type Target struct {
	Name       string
	Type       string
	URL        string
	URLFrom    string
	SecretFrom string   // webhook: HMAC-SHA256 key of the body
	Events     []Kind   // empty: every event
	To         []string // email recipients
	From       string   // email sender
}

// Wants reports whether t takes events of kind k.
func (t Target) Wants(k Kind) bool { return len(t.Events) == 0 || slices.Contains(t.Events, k) }

// Check validates a target the way the environment file is checked at load
// (no I/O, no variables): the type, the event names and the fields each
// type needs. where names the target in the message ("notify.targets[0]").
func (t Target) Check(where string) []string {
	var probs []string
	if !slices.Contains(Types(), t.Type) {
		probs = append(probs, fmt.Sprintf("%s.type %q is not a target type: use one of %s", where, t.Type, strings.Join(Types(), ", ")))
	}
	for _, k := range t.Events {
		if !k.Valid() {
			probs = append(probs, fmt.Sprintf("%s.events: %q is not an event: use any of %s", where, k, kindList()))
		}
	}
	switch t.Type {
	case TypeWebhook, TypeSlack:
		probs = append(probs, t.checkURL(where)...)
		if t.Type == TypeSlack && t.SecretFrom != "" {
			probs = append(probs, fmt.Sprintf("%s.secret_from: slack webhooks are not signed: remove it", where))
		}
		if len(t.To) > 0 {
			probs = append(probs, fmt.Sprintf("%s.to: only email targets have recipients: remove it", where))
		}
	case TypeEmail:
		if len(t.To) == 0 {
			probs = append(probs, fmt.Sprintf("%s.to: an email target needs at least one recipient", where))
		}
		if t.URL != "" || t.URLFrom != "" || t.SecretFrom != "" {
			probs = append(probs, fmt.Sprintf("%s: an email target takes to (and from), not url, url_from or secret_from", where))
		}
	}
	return probs
}

func (t Target) checkURL(where string) []string {
	switch {
	case t.URL != "" && t.URLFrom != "":
		return []string{fmt.Sprintf("%s: give url or url_from, not both", where)}
	case t.URL == "" && t.URLFrom == "":
		return []string{fmt.Sprintf("%s: a %s target needs url, or url_from naming the variable that holds it", where, t.Type)}
	case t.URL != "":
		u, err := url.Parse(t.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return []string{fmt.Sprintf("%s.url %s is not an http(s) URL", where, RedactURL(t.URL))}
		}
	}
	return nil
}

func kindList() string {
	var s []string
	for _, k := range Kinds() {
		s = append(s, string(k))
	}
	return strings.Join(s, ", ")
}

// CheckTargets validates the targets and their names: a target without a
// name is named after its type (and its place when the type repeats); two
// targets may not share a name. It returns the targets with their names.
func CheckTargets(ts []Target) ([]Target, []string) {
	var probs []string
	out := slices.Clone(ts)
	seen := map[string]bool{}
	for i := range out {
		where := fmt.Sprintf("notify.targets[%d]", i)
		probs = append(probs, out[i].Check(where)...)
		if out[i].Name == "" {
			out[i].Name = defaultName(out, i)
		}
		if seen[out[i].Name] {
			probs = append(probs, fmt.Sprintf("%s.name %q is used by another target: give each a different name", where, out[i].Name))
		}
		seen[out[i].Name] = true
	}
	return out, probs
}

func defaultName(ts []Target, i int) string {
	n := 0
	for _, t := range ts {
		if t.Type == ts[i].Type {
			n++
		}
	}
	if n <= 1 {
		return ts[i].Type
	}
	return fmt.Sprintf("%s-%d", ts[i].Type, i+1)
}

// RedactURL is u as it may be shown: scheme and host only (webhook URLs
// carry their token in the path or query).
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return "<url>"
	}
	return p.Scheme + "://" + p.Host
}
