-- wrk -s wrk-summary.lua: writes the summary deployctl's performance check
-- reads, to $SUMMARY (default perf-summary.json). Responses >= 400 and
-- socket errors count as errors.
done = function(summary, latency, requests)
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.timeout + e.status
  local total = math.max(summary.requests, 1)
  local f = assert(io.open(os.getenv("SUMMARY") or "perf-summary.json", "w"))
  f:write(string.format('{"error_rate": %.6f, "p95_ms": %.3f, "requests": %d, "at": "%s"}\n',
    errors / total, latency:percentile(95) / 1000, summary.requests, os.date("!%Y-%m-%dT%H:%M:%SZ")))
  f:close()
end
