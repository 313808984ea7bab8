package kubernetes

import (
	"os/exec"
	"regexp"
	"strconv"
	"testing"
)

var requestLine = regexp.MustCompile(`(?m)^apiserver_request_total\{([^}]*)\} (\d+)`)
var label = regexp.MustCompile(`(\w+)="([^"]*)"`)

// requestCounts reads the API server's request counters by resource and verb.
func requestCounts(t testing.TB) map[string]int {
	t.Helper()
	raw, err := srv.Kube.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, m := range requestLine.FindAllStringSubmatch(string(raw), -1) {
		l := map[string]string{}
		for _, kv := range label.FindAllStringSubmatch(m[1], -1) {
			l[kv[1]] = kv[2]
		}
		n, _ := strconv.Atoi(m[2])
		out[l["resource"]+" "+l["verb"]] += n
	}
	return out
}

// The API requests of one `rollout green --weight N`, by resource and verb,
// from the server's own counters (run alone: other tests would add theirs).
func BenchmarkE2ERolloutRequests(b *testing.B) {
	e := setup(b)
	srv.MarkReady(b, e.ns, "api-blue")
	srv.MarkReady(b, e.ns, "api-green")
	op := newOperator(b, "alice", e.ns, srv.Kubeconfig(b, "alice", "system:masters"), ModeGateway, "")
	bin := deployctl(b)
	for i := 0; b.Loop(); i++ {
		before := requestCounts(b)
		cmd := exec.Command(bin, "rollout", "green", "--weight", strconv.Itoa(10+i%2*10))
		cmd.Dir, cmd.Env = op.dir, op.env
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
		after := requestCounts(b)
		total := 0
		for k, n := range after {
			if d := n - before[k]; d > 0 && k != "metrics GET" && k != " GET" {
				total += d
				if i == 2 { // steady state: the first runs also create the Lease and ConfigMaps
					b.Logf("%-28s %d", k, d)
				}
			}
		}
		b.ReportMetric(float64(after["httproutes GET"]-before["httproutes GET"]), "route-GETs")
		b.ReportMetric(float64(after["httproutes PUT"]-before["httproutes PUT"]), "route-PUTs")
		b.ReportMetric(float64(total), "requests")
	}
}
