package proxy

import (
	"context"
	"net/http"
	"net/url"

	"github.com/deployctl/deployctl/pkg/provider"
)

// backend is where the proxy sends one slot's requests: the slot's URL
// and the connections to it, on every path (the event loops, the goroutine
// fast path, net/http).
//
// A slot pointed at another URL (Doc.Slots, `release --slot-url`) gets a
// new backend at reload, published for both slots at once with one atomic
// store (Server.rt), before the ack says so; the requests load it as they
// load the weights, with no lock. The old backend is retired: its idle
// connections close, those still serving a request close after it instead
// of going back to a pool, and the event loops drop theirs (evUp.t), so no
// connection to the old URL serves a request for the new one.
type backend struct {
	slot     provider.Slot
	url      *url.URL
	name     string // url with its password redacted: logs, ack, /-/health
	override bool   // the state document's URL, not traffic.local.slots.<slot>.url
	fast     bool   // the fast path may send requests there (plainHTTP)
	pool     *directTransport
	proxy    http.Handler // net/http's way there (httputil.ReverseProxy)
	stop     context.CancelFunc
}

// routes are the backends of both slots, as they are served together.
type routes struct {
	up [2]*backend // by slotIndex
	// fast: every slot's backend takes the fast path; otherwise the fast
	// path hands its connections to net/http (a slot pointed at https, or
	// at a path prefix).
	fast bool
}

func slotIndex(s provider.Slot) int {
	if s == provider.Green {
		return 1
	}
	return 0
}

func (rt *routes) of(s provider.Slot) *backend { return rt.up[slotIndex(s)] }

func (s *Server) routes() *routes { return s.rt.Load() }

// plainHTTP says whether the fast path may forward to u: plain http, no
// path prefix, query or credentials.
func plainHTTP(u *url.URL) bool {
	return u.Scheme == "http" && (u.Path == "" || u.Path == "/") && u.RawQuery == "" && u.User == nil
}

// newBackend builds the way to slot's u. On the standard path (fast_path:
// false) it is Go's stock Transport, one request per connection; otherwise
// a directTransport of its own, whose pool the fast path shares.
func (s *Server) newBackend(slot provider.Slot, u *url.URL, override bool) *backend {
	s.transports()
	up := &backend{slot: slot, url: u, name: u.Redacted(), override: override, fast: plainHTTP(u)}
	if s.StandardPath {
		up.proxy = newSlotProxy(slot, u, stockTransport{s.stock}, s.Log)
		return up
	}
	lim := s.Limits.withDefaults()
	up.pool = newDirectTransport(hostPort(u), s.tr)
	up.pool.idleTimeout, up.pool.readTimeout = lim.SlotIdleTimeout, lim.SlotReadTimeout
	up.proxy = newSlotProxy(slot, u, up.pool, s.Log)
	if s.poolCtx != nil {
		ctx, stop := context.WithCancel(s.poolCtx)
		up.stop = stop
		go up.pool.watch(ctx)
	}
	return up
}

// retire lets go of an backend no slot is served from any more.
func (up *backend) retire() {
	if up.stop != nil {
		up.stop()
	}
	if up.pool != nil {
		up.pool.retire()
	}
}

// transports builds, once, what the backends share: Go's Transport, for
// what a directTransport does not take (https, upgrades), and the standard
// path's copy of it. Go's Transport reads bytes a slot sends after an
// answer as the answer to the next request on the connection when that
// request comes quickly enough (TestDifferentialSlotSide measures it on
// the reference): the standard path sends one request per connection.
func (s *Server) transports() {
	if s.tr != nil {
		return
	}
	s.tr = newTransport(s.Limits.withDefaults())
	s.stock = s.tr.Clone()
	s.stock.DisableKeepAlives = true
}

// slotChange is a slot served from another URL since a reload.
type slotChange struct {
	slot     provider.Slot
	url, was string // redacted
	override bool
}

// applySlots publishes the backends d asks for: a slot whose URL changed
// gets a new backend, and its old one is retired; the others keep theirs,
// and their pooled connections. d was checked (ParseDoc).
func (s *Server) applySlots(d *Doc) []slotChange {
	old := s.rt.Load()
	next := &routes{fast: true}
	var retired []*backend
	var changes []slotChange
	for _, slot := range provider.Slots {
		u, override := s.Slots[slot], false
		if sd, ok := d.Slots[slot]; ok {
			if o, err := ParseSlotURL(sd.URL); err == nil {
				u, override = o, true
			}
		}
		if u == nil {
			continue
		}
		i := slotIndex(slot)
		var cur *backend
		if old != nil {
			cur = old.up[i]
		}
		switch {
		case cur != nil && cur.url.String() == u.String():
			if cur.override != override { // the same URL, now from the other source
				c := *cur
				c.override = override
				cur = &c
			}
			next.up[i] = cur
		default:
			next.up[i] = s.newBackend(slot, u, override)
			was := ""
			if cur != nil {
				retired = append(retired, cur)
				was = cur.name
			} else if override && s.Slots[slot] != nil {
				was = s.Slots[slot].Redacted()
			}
			if cur != nil || override {
				changes = append(changes, slotChange{slot: slot, url: next.up[i].name, was: was, override: override})
			}
		}
		next.fast = next.fast && next.up[i].fast
	}
	s.rt.Store(next)
	for _, up := range retired {
		up.retire()
	}
	return changes
}

// ackSlots is what the ack says of the slots: where each is served from.
func (s *Server) ackSlots() map[provider.Slot]AckSlot {
	rt := s.rt.Load()
	if rt == nil {
		return nil
	}
	out := map[provider.Slot]AckSlot{}
	for _, up := range rt.up {
		if up != nil {
			out[up.slot] = AckSlot{URL: up.name, Override: up.override}
		}
	}
	return out
}
