package kubernetes

import (
	"os/exec"
	"sort"
	"strconv"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/deployctl/deployctl/pkg/provider"
)

// The provider's part of a weight change: one read and one write.
func BenchmarkSetWeights(b *testing.B) {
	e := setup(b)
	r := &Router{Clients: e.c, Settings: e.s}
	ctx := b.Context()
	for i := 0; b.Loop(); i++ {
		g := 10 + i%2*10
		if err := r.SetWeights(ctx, provider.Weights{provider.Blue: 100 - g, provider.Green: g}); err != nil {
			b.Fatal(err)
		}
	}
}

// From `deployctl rollout green --weight N` starting to the route carrying
// the new weights (seen through a watch), and to the command's exit.
func BenchmarkE2ERolloutWeight(b *testing.B) {
	e := setup(b)
	srv.MarkReady(b, e.ns, "api-blue")
	srv.MarkReady(b, e.ns, "api-green")
	op := newOperator(b, "alice", e.ns, srv.Kubeconfig(b, "alice", "system:masters"), ModeGateway, "")
	var toRoute, toExit []time.Duration
	bin := deployctl(b) // built before the clock starts
	for i := 0; b.Loop(); i++ {
		g := 10 + i%2*10
		w, err := srv.Dynamic.Resource(HTTPRouteGVR).Namespace(e.ns).Watch(b.Context(), metav1.ListOptions{FieldSelector: "metadata.name=api"})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		cmd := exec.Command(bin, "rollout", "green", "--weight", strconv.Itoa(g))
		cmd.Dir, cmd.Env = op.dir, op.env
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		toRoute = append(toRoute, untilGreen(b, w, int64(g), start, e))
		w.Stop()
		if err := cmd.Wait(); err != nil {
			b.Fatal(err)
		}
		toExit = append(toExit, time.Since(start))
	}
	b.ReportMetric(ms(median(toRoute)), "ms-to-route-updated")
	b.ReportMetric(ms(median(toExit)), "ms-to-exit")
}

// `deployctl rollout status -o json`: state, weights, both Deployments, lock.
func BenchmarkE2ERolloutStatus(b *testing.B) {
	e := setup(b)
	op := newOperator(b, "alice", e.ns, srv.Kubeconfig(b, "alice", "system:masters"), ModeGateway, "")
	bin := deployctl(b)
	for b.Loop() {
		cmd := exec.Command(bin, "rollout", "status", "-o", "json")
		cmd.Dir, cmd.Env = op.dir, op.env
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
	}
}

// Baseline: the same binary doing no work (process start and exit).
func BenchmarkE2EVersionBaseline(b *testing.B) {
	bin := deployctl(b)
	for b.Loop() {
		if err := exec.Command(bin, "version").Run(); err != nil {
			b.Fatal(err)
		}
	}
}

func untilGreen(b *testing.B, w watch.Interface, g int64, start time.Time, e env) time.Duration {
	b.Helper()
	r := &Router{Settings: e.s}
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev := <-w.ResultChan():
			u, ok := ev.Object.(*unstructured.Unstructured)
			if !ok {
				continue
			}
			if ws, err := r.weightsOf(u); err == nil && int64(ws[provider.Green]) == g {
				return time.Since(start)
			}
		case <-timeout:
			b.Fatal("the route never carried the new weights")
		}
	}
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
