package page

import (
	"encoding/json"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// jsonResponse is the body API clients get.
type jsonResponse struct {
	Error      string `json:"error"`
	Message    string `json:"message"`
	Until      string `json:"until,omitempty"`
	Since      string `json:"since,omitempty"`
	RetryAfter int    `json:"retry_after"`
}

func jsonBody(d Data) []byte {
	b, _ := json.Marshal(jsonResponse{Error: "maintenance", Message: d.Message, Until: d.UntilISO, Since: d.Since, RetryAfter: d.RetryAfter})
	return append(b, '\n')
}

// wantsJSON reports whether the client names JSON and prefers it to HTML.
// A bare */* (curl, most tools) gets the page; a browser's Accept does not
// name JSON; "application/json, text/plain, */*" (axios, fetch) gets JSON.
func wantsJSON(accept []string) bool {
	var qJSON, qHTML float64
	for _, part := range strings.Split(strings.Join(accept, ","), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := params["q"]; ok {
			if v, err := strconv.ParseFloat(s, 64); err == nil {
				q = v
			}
		}
		switch {
		case mt == "application/json" || strings.HasSuffix(mt, "+json") || mt == "application/*":
			qJSON = max(qJSON, q)
		case mt == "text/html" || mt == "text/*":
			qHTML = max(qHTML, q)
		}
	}
	return qJSON > 0 && qJSON >= qHTML
}

// ParseAllow parses an allow-list: CIDRs ("10.0.0.0/8", "2001:db8::/32")
// or single addresses, which mean just that host.
func ParseAllow(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		s = strings.TrimSpace(s)
		if pfx, err := netip.ParsePrefix(s); err == nil {
			out = append(out, pfx.Masked())
			continue
		}
		addr, err := netip.ParseAddr(s)
		if err != nil {
			return nil, &AllowError{Value: s}
		}
		addr = addr.Unmap()
		out = append(out, netip.PrefixFrom(addr, addr.BitLen()))
	}
	return out, nil
}

// AllowError names an allow-list entry that is neither a CIDR nor an address.
type AllowError struct{ Value string }

func (e *AllowError) Error() string {
	return "invalid allow-list entry " + strconv.Quote(e.Value) + ": use a CIDR such as 10.0.0.0/8 or 2001:db8::/32, or a single address"
}

func (p *Page) allowed(list []string, r *http.Request) bool {
	if len(list) == 0 {
		return false
	}
	pfxs, err := ParseAllow(list)
	if err != nil {
		return false // the switch validates; a bad entry never opens the gate
	}
	ip, ok := p.clientIP(r)
	if !ok {
		return false
	}
	for _, pfx := range pfxs {
		if pfx.Contains(ip) {
			return true
		}
	}
	return false
}

// clientIP is the peer's address or, when the peer is a trusted proxy, the
// nearest untrusted address in X-Forwarded-For.
func (p *Page) clientIP(r *http.Request) (netip.Addr, bool) {
	ip, ok := parseHostIP(r.RemoteAddr)
	if !ok || !inAny(p.TrustedProxies, ip) {
		return ip, ok
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return ip, true
		}
		if ip = hop.Unmap(); !inAny(p.TrustedProxies, ip) {
			return ip, true
		}
	}
	return ip, true
}

func parseHostIP(remote string) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return ip.Unmap().WithZone(""), true
}

func inAny(pfxs []netip.Prefix, ip netip.Addr) bool {
	for _, p := range pfxs {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
