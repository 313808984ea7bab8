package config

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/deployctl/deployctl/pkg/notify"
)

// notifyTargetKeys are the keys a notify target may have.
var notifyTargetKeys = []string{"events", "from", "name", "secret_from", "to", "type", "url", "url_from"}

// NotifyTargets are the notify: targets as the notifier takes them, each
// named (after its type when the file gives no name).
func (c *Config) NotifyTargets() []notify.Target {
	ts, _ := notify.CheckTargets(c.notifyTargets())
	return ts
}

func (c *Config) notifyTargets() []notify.Target {
	out := make([]notify.Target, 0, len(c.Notify.Targets))
	for _, t := range c.Notify.Targets {
		nt := notify.Target{Name: t.Name, Type: t.Type, URL: t.URL, URLFrom: t.URLFrom, SecretFrom: t.SecretFrom, To: t.To, From: t.From}
		for _, k := range t.Events {
			nt.Events = append(nt.Events, notify.Kind(k))
		}
		out = append(out, nt)
	}
	return out
}

// validateNotify checks the notify: section: target types, event names,
// the fields each type needs, and no unknown keys in a target (a typo in
// url_from would otherwise leave a target that never delivers).
func (l *Loaded) validateNotify() []string {
	var probs []string
	if raw, ok := l.v.Get("notify.targets").([]any); ok {
		for i, item := range raw {
			m, ok := item.(map[string]any)
			if !ok {
				probs = append(probs, fmt.Sprintf("notify.targets[%d] is not a mapping: give type and its settings", i))
				continue
			}
			probs = append(probs, unknownTargetKeys(i, m)...)
		}
	}
	_, more := notify.CheckTargets(l.notifyTargets())
	probs = append(probs, more...)
	if l.Notify.Timeout < 0 {
		probs = append(probs, fmt.Sprintf("notify.timeout %v must not be negative", l.Notify.Timeout))
	}
	return probs
}

func unknownTargetKeys(i int, m map[string]any) []string {
	var probs []string
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(notifyTargetKeys, strings.ToLower(k)) {
			probs = append(probs, fmt.Sprintf("notify.targets[%d]: unknown key %q: a target takes %s", i, k, strings.Join(notifyTargetKeys, ", ")))
		}
	}
	return probs
}
