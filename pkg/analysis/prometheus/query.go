package prometheus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// queryError is a query that reached Prometheus and gave no usable value:
// a bad query, no data, NaN, several series. The measurement is inconclusive.
type queryError struct{ msg string }

func (e *queryError) Error() string { return e.msg }

func inconclusive(format string, a ...any) error {
	return &queryError{msg: fmt.Sprintf(format, a...)}
}

// apiResponse is the envelope of the Prometheus HTTP API.
type apiResponse struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// query evaluates an instant query at at (zero: Prometheus's now) and
// returns its single value.
func (a *Analyzer) query(ctx context.Context, q string, at time.Time) (float64, error) {
	u := *a.base
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/v1/query"
	params := url.Values{"query": {q}}
	if !at.IsZero() {
		params.Set("time", strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64))
	}
	u.RawQuery = params.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, inconclusive("cannot build the request: %v", err)
	}
	resp, err := a.o.HTTPClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message holds the URL, which may hold a password
		}
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return 0, err
	}
	return parseResponse(resp.StatusCode, body)
}

func parseResponse(code int, body []byte) (float64, error) {
	var r apiResponse
	if err := json.Unmarshal(body, &r); err != nil || r.Status == "" {
		return 0, inconclusive("HTTP %d without a Prometheus API answer: is the URL the Prometheus server?", code)
	}
	if r.Status != "success" {
		return 0, inconclusive("Prometheus rejected the query (%s): %s", r.ErrorType, r.Error)
	}
	switch r.Data.ResultType {
	case "vector":
		return vectorValue(r.Data.Result)
	case "scalar":
		var s [2]any
		if err := json.Unmarshal(r.Data.Result, &s); err != nil {
			return 0, inconclusive("unreadable scalar result: %v", err)
		}
		return sampleValue(s[1])
	default:
		return 0, inconclusive("the query returns a %s; it must return one number (an instant vector of one series)", r.Data.ResultType)
	}
}

func vectorValue(raw json.RawMessage) (float64, error) {
	var series []struct {
		Metric map[string]string `json:"metric"`
		Value  [2]any            `json:"value"`
	}
	if err := json.Unmarshal(raw, &series); err != nil {
		return 0, inconclusive("unreadable vector result: %v", err)
	}
	switch len(series) {
	case 0:
		return 0, inconclusive("no data: the query returned no series (no traffic to the slot yet, or the metric or slot label is wrong)")
	case 1:
		return sampleValue(series[0].Value[1])
	default:
		return 0, inconclusive("the query returned %d series; it must return one (aggregate with sum or sum by (le))", len(series))
	}
}

// sampleValue reads Prometheus's string-encoded float; NaN and ±Inf are
// no data (0/0 when a slot got no requests in the window).
func sampleValue(v any) (float64, error) {
	s, ok := v.(string)
	if !ok {
		return 0, inconclusive("unreadable sample value %v", v)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, inconclusive("unreadable sample value %q", s)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, inconclusive("no data: the query returned %s (no requests in the window?)", s)
	}
	return f, nil
}

// redactURL hides a password in a URL for messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
