package checklist

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Waiver accepts a check's findings until Expires, for a stated reason.
type Waiver struct {
	ID      string    `json:"id"`
	Reason  string    `json:"reason"`
	Expires time.Time `json:"expires"`
	Expired bool      `json:"expired"`
}

// WaiverSpec is a waiver as written in the environment file.
type WaiverSpec struct {
	ID, Reason, Expires string
}

// ParseWaivers checks every waiver and reports every problem at once: an
// unknown id, a missing reason or expiry, an unreadable expiry, two waivers
// for one check. Expiry is RFC 3339 or a date (2026-12-31, the end of that
// day in UTC).
func ParseWaivers(specs []WaiverSpec) ([]Waiver, error) {
	var out []Waiver
	var probs []string
	seen := map[string]bool{}
	for i, s := range specs {
		w, err := parseWaiver(s)
		if err != nil {
			probs = append(probs, fmt.Sprintf("checklist.waivers[%d]: %v", i, err))
			continue
		}
		if seen[w.ID] {
			probs = append(probs, fmt.Sprintf("checklist.waivers[%d]: a second waiver for %q; keep one", i, w.ID))
			continue
		}
		seen[w.ID] = true
		out = append(out, w)
	}
	if len(probs) > 0 {
		return nil, errors.New(strings.Join(probs, "; "))
	}
	return out, nil
}

func parseWaiver(s WaiverSpec) (Waiver, error) {
	id := strings.TrimSpace(s.ID)
	switch {
	case !known(id):
		return Waiver{}, fmt.Errorf("id %q is not a check (checks: %s)", s.ID, strings.Join(IDs, ", "))
	case strings.TrimSpace(s.Reason) == "":
		return Waiver{}, fmt.Errorf("waiver for %s has no reason: say why the risk is accepted", id)
	case strings.TrimSpace(s.Expires) == "":
		return Waiver{}, fmt.Errorf("waiver for %s has no expires: give a date such as 2026-12-31", id)
	}
	exp, err := parseExpiry(strings.TrimSpace(s.Expires))
	if err != nil {
		return Waiver{}, fmt.Errorf("waiver for %s: expires %q: want a date (2026-12-31) or an RFC 3339 time", id, s.Expires)
	}
	return Waiver{ID: id, Reason: strings.TrimSpace(s.Reason), Expires: exp}, nil
}

func parseExpiry(s string) (time.Time, error) {
	if d, err := time.Parse("2006-01-02", s); err == nil {
		return d.Add(24*time.Hour - time.Second), nil
	}
	// YAML reads an unquoted date as a timestamp, which reaches us printed.
	if t, err := time.Parse("2006-01-02 15:04:05 -0700 MST", s); err == nil {
		if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 {
			return t.Add(24*time.Hour - time.Second), nil
		}
		return t, nil
	}
	// Relative expiries ("30d") would never expire: only absolute times.
	return time.Parse(time.RFC3339, s)
}

// applyWaiver turns a waived finding into a warning, and an expired waiver
// into a failure whatever the check found: an expired waiver is a decision
// nobody renewed.
func applyWaiver(res *Result, waivers []Waiver, now time.Time) {
	for _, w := range waivers {
		if w.ID != res.ID {
			continue
		}
		w.Expired = !now.Before(w.Expires)
		res.Waiver = &w
		day := w.Expires.UTC().Format("2006-01-02")
		switch {
		case w.Expired:
			res.Evidence = append(res.Evidence, fmt.Sprintf("without the waiver: %s: %s", res.Status, res.Summary))
			res.Status = Fail
			res.Summary = fmt.Sprintf("waiver expired on %s (%s)", day, w.Reason)
			res.Fix = fmt.Sprintf("fix the check and remove the waiver for %s, or renew it with a new expires and reason", w.ID)
		case res.Status == Pass:
			res.Evidence = append(res.Evidence, fmt.Sprintf("waiver until %s no longer needed: remove it", day))
		case res.Status == Fail || res.Status == Warn:
			res.Evidence = append(res.Evidence, fmt.Sprintf("waived finding: %s: %s", res.Status, res.Summary))
			res.Status = Warn
			res.Summary = fmt.Sprintf("waived until %s: %s", day, w.Reason)
		}
	}
}
