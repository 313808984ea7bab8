package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
)

// Slot probes the slot's readiness path; the version comes from the
// probe's JSON body ("version"), as demo-api and most health endpoints give it.
func (r *Router) Slot(ctx context.Context, s provider.Slot) (provider.SlotStatus, error) {
	return r.probe(ctx, s, r.Health.ReadinessPath)
}

// Liveness probes the slot's liveness path.
func (r *Router) Liveness(ctx context.Context, s provider.Slot) (provider.SlotStatus, error) {
	return r.probe(ctx, s, r.Health.Path)
}

func (r *Router) probe(ctx context.Context, s provider.Slot, path string) (provider.SlotStatus, error) {
	// the URL the proxy serves the slot from: --slot-url's, or the setting
	base, err := r.ServedURL(ctx, s)
	if err != nil {
		return provider.SlotStatus{Slot: s}, err
	}
	return r.probeAt(ctx, s, base, path)
}

// ProbeAt probes slot s's readiness path at base, a URL the slot is not
// (yet) served from: what a rollback checks before it points the slot back
// at the URL of the release it returns to.
func (r *Router) ProbeAt(ctx context.Context, s provider.Slot, base string) (provider.SlotStatus, error) {
	return r.probeAt(ctx, s, base, r.Health.ReadinessPath)
}

func (r *Router) probeAt(ctx context.Context, s provider.Slot, base, path string) (provider.SlotStatus, error) {
	st := provider.SlotStatus{Slot: s}
	ctx, cancel := context.WithTimeout(ctx, r.Health.Timeout)
	defer cancel()
	url := strings.TrimRight(base, "/") + path
	shown := strings.TrimRight(redactURL(base), "/") + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return st, fmt.Errorf("GET %s: the slot URL is not usable", shown)
	}
	start := time.Now()
	resp, err := r.HTTP.Do(req)
	st.Latency = time.Since(start)
	if err != nil {
		st.Detail = fmt.Sprintf("GET %s: %v", shown, unwrapURLError(err))
		return st, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64*1024))
	var info struct {
		Version string `json:"version"`
	}
	_ = json.Unmarshal(body, &info)
	st.Version = info.Version
	st.Ready = resp.StatusCode >= 200 && resp.StatusCode < 300
	st.Detail = fmt.Sprintf("GET %s: %s", shown, resp.Status)
	return st, nil
}

// unwrapURLError drops the "Get \"url\":" prefix the detail already has.
func unwrapURLError(err error) error {
	if ue, ok := err.(interface{ Unwrap() error }); ok && ue.Unwrap() != nil {
		return ue.Unwrap()
	}
	return err
}
