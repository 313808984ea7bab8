package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/deployctl/deployctl/pkg/provider"
)

var _ provider.SlotURLSetter = (*Router)(nil)

// SetSlotURL points slot s at raw (`release --slot-url`): the state
// document's slots.<s>.url, which the running proxy applies at its next
// reload, and which stays there, whatever traffic.local.slots.<s>.url
// says, until it is changed again. It returns once the proxy acknowledges
// that revision with s served from raw: read back from its ack, not
// assumed. raw equal to the slot's setting, or "", removes the override:
// the slot is served from its setting again.
//
// An invalid URL (see ParseSlotURL) is a *provider.ConfigError and nothing
// is written. Without a running proxy the change is stored, Notef says so,
// and the proxy applies it when it starts, as SetWeights does.
func (r *Router) SetSlotURL(ctx context.Context, s provider.Slot, raw string) error {
	if !s.Valid() {
		return &provider.ConfigError{Msg: fmt.Sprintf("unknown slot %q (slots: blue, green)", s)}
	}
	setting := r.Slots[s]
	override := raw != "" && !provider.SameSlotURL(raw, setting)
	want := setting
	if override {
		u, err := ParseSlotURL(raw)
		if err != nil {
			return &provider.ConfigError{Msg: fmt.Sprintf("the %s slot's URL: %v", s, err)}
		}
		want = u.String()
	}
	rev, err := r.update(ctx, func(d *Doc) {
		if !override {
			delete(d.Slots, s)
			if len(d.Slots) == 0 {
				d.Slots = nil
			}
			return
		}
		if d.Slots == nil {
			d.Slots = map[provider.Slot]SlotDoc{}
		}
		d.Slots[s] = SlotDoc{URL: want}
	})
	if err != nil {
		return err
	}
	return r.waitAckFor(ctx, rev, func(a *Ack) error { return r.checkSlotAck(a, rev, s, redactURL(want), override) })
}

// checkSlotAck says whether the proxy's ack of revision rev (or a later
// one) serves slot s from want.
func (r *Router) checkSlotAck(a *Ack, rev int64, s provider.Slot, want string, override bool) error {
	if a.Slots == nil {
		return fmt.Errorf("the proxy (pid %d) applied revision %d but does not say which URLs it serves: it is older than slot URLs; restart it (`%s`) so that it serves the %s slot from %s",
			a.PID, a.Revision, r.startCommand(), s, want)
	}
	got := a.Slots[s]
	switch {
	case got.URL == want && got.Override == override:
		return nil
	case !override && !got.Override:
		// the override is gone; the proxy serves its own setting, read when it started
		r.notef("the proxy serves the %s slot from %s, its traffic.local.slots.%s.url when it started, not %s of the environment file now; restart it to read the file again", s, got.URL, s, want)
		return nil
	case a.Revision > rev:
		return fmt.Errorf("the %s slot's URL was changed again meanwhile: the proxy serves it from %s (revision %d)", s, got.URL, a.Revision)
	}
	return fmt.Errorf("the proxy (pid %d) applied revision %d but serves the %s slot from %s, not %s; check the proxy's log", a.PID, a.Revision, s, got.URL, want)
}

func (r *Router) startCommand() string {
	if r.Env != "" {
		return "deployctl -e " + r.Env + " proxy"
	}
	return "deployctl proxy"
}

// ServedURL is the URL slot s is served from: the running proxy's (its
// ack), else the state document's (a --slot-url), else the slot's setting.
func (r *Router) ServedURL(ctx context.Context, s provider.Slot) (string, error) {
	setting, ok := r.Slots[s]
	if !ok {
		return "", fmt.Errorf("unknown slot %q (slots: blue, green)", s)
	}
	if running, ack := r.Running(); running && ack != nil && ack.Slots != nil {
		if got, ok := ack.Slots[s]; ok {
			if !got.Override && got.URL == redactURL(setting) {
				return setting, nil // with its credentials, which the ack does not show
			}
			return got.URL, nil
		}
	}
	d, _, err := r.Desired(ctx)
	if err != nil {
		return "", err
	}
	if sd, ok := d.Slots[s]; ok {
		return sd.URL, nil
	}
	return setting, nil
}

// overrides describes the slots the running proxy serves from the state's
// URLs, for DataPlane: "; green from http://… (state, not traffic.local.slots.green.url)".
func overrides(a *Ack) string {
	var b strings.Builder
	for _, s := range provider.Slots {
		if got, ok := a.Slots[s]; ok && got.Override {
			fmt.Fprintf(&b, "; %s from %s (release --slot-url, not traffic.local.slots.%s.url)", s, got.URL, s)
		}
	}
	return b.String()
}

// ParseSlotURL checks a slot URL given to SetSlotURL or found in the state
// document: an absolute http or https URL with a host, without
// credentials (the state and ack files never hold a secret, and the proxy
// does not pass them on to the slot) or fragment. A path prefix is kept,
// as in traffic.local.slots.<slot>.url. Its errors never repeat a password.
func ParseSlotURL(raw string) (*url.URL, error) {
	shown := redactRaw(raw)
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if strings.Contains(raw, "@") {
			err = errors.New("malformed")
		}
		return nil, fmt.Errorf("%q is not a URL (%v)", shown, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%q must be an absolute http or https URL, such as http://127.0.0.1:3002", shown)
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("%q has no host: give an absolute URL, such as http://127.0.0.1:3002", shown)
	case !validPort(u.Port()):
		return nil, fmt.Errorf("%q has no valid port (1 to 65535)", shown)
	case u.User != nil:
		return nil, fmt.Errorf("%q carries credentials: a slot URL is stored in the state file, which never holds a secret, and the proxy would not send them to the slot; give the URL without them", u.Redacted())
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, fmt.Errorf("%q has a fragment (#…), which no request carries; remove it", shown)
	}
	return u, nil
}

func validPort(p string) bool {
	if p == "" {
		return true
	}
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

// redactURL is s with its password, if any, shown as xxxxx.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return redactRaw(s)
	}
	return u.Redacted()
}

// redactRaw hides the userinfo of something that may not parse as a URL.
func redactRaw(s string) string {
	rest := s
	prefix := ""
	if i := strings.Index(s, "://"); i >= 0 {
		prefix, rest = s[:i+3], s[i+3:]
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
		return prefix + "xxxxx" + rest[at:]
	}
	return s
}
