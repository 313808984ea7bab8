// Command proxyload is the load generator of scripts/bench/proxy:
//
//	proxyload upstream -listen ADDR -name v1 [-delay 2ms]
//	                                              a minimal slot answering {"version":NAME}
//	proxyload latency -url URL [-direct URL] -rate 1000 -duration 10s
//	                                              open-loop load at a fixed rate; latency percentiles and the
//	                                              CPU time the host took (steal) as JSON (with -direct: the
//	                                              upstream too, interleaved)
//	proxyload switch -deployctl BIN -dir DIR -url URL -runs 10
//	                                              time from `rollout SLOT --weight 100` returning to the
//	                                              proxy answering with the new slot, as JSON
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: proxyload upstream|latency|switch [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "upstream":
		err = upstream(os.Args[2:])
	case "latency":
		err = latency(os.Args[2:])
	case "switch":
		err = switchTime(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "proxyload:", err)
		os.Exit(1)
	}
}

func upstream(args []string) error {
	fs := flag.NewFlagSet("upstream", flag.ExitOnError)
	listen := fs.String("listen", "127.0.0.1:3001", "address")
	name := fs.String("name", "v1", "version answered")
	delay := fs.Duration("delay", 0, "wait before answering, as an application waiting on its database would")
	fs.Parse(args)
	body := []byte(fmt.Sprintf(`{"version":%q}`+"\n", *name))
	return http.ListenAndServe(*listen, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if *delay > 0 {
			time.Sleep(*delay)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
}

func client() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512}}
}

func get(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	var v struct{ Version string }
	json.Unmarshal(b, &v)
	return v.Version, err
}

// latency sends requests at a fixed rate whatever the answers' pace (open
// loop), so a slow proxy shows in the percentiles instead of lowering the
// rate. With -direct it also sends the same rate straight to the upstream,
// interleaved within each interval, so both sets of figures come from the
// same seconds of the same machine: on a shared machine the tail latency of
// two runs a minute apart differs by more than the proxy adds. It reports
// the share of CPU time the hypervisor took from this machine while it
// measured (steal, from /proc/stat): a vCPU taken away for a few
// milliseconds shows in p99 on every path, more on a path with more hops.
func latency(args []string) error {
	fs := flag.NewFlagSet("latency", flag.ExitOnError)
	url := fs.String("url", "", "target")
	direct := fs.String("direct", "", "the upstream itself, measured alongside")
	rate := fs.Int("rate", 1000, "requests per second")
	dur := fs.Duration("duration", 10*time.Second, "how long")
	warm := fs.Duration("warmup", 2*time.Second, "load before measuring")
	fs.Parse(args)
	targets := []*target{newTarget(*url)}
	if *direct != "" {
		targets = append(targets, newTarget(*direct))
	}
	interval := time.Second / time.Duration(*rate)
	start := time.Now()
	measureFrom := start.Add(*warm)
	var before cpuTimes
	for next := start; next.Before(start.Add(*warm + *dur)); next = next.Add(interval) {
		if before.total == 0 && !next.Before(measureFrom) {
			before = readCPUTimes()
		}
		for i, t := range targets {
			sched := next.Add(time.Duration(i) * interval / time.Duration(len(targets)))
			time.Sleep(time.Until(sched))
			t.queue <- job{sched: sched, warmup: sched.Before(measureFrom)}
		}
	}
	after := readCPUTimes()
	for _, t := range targets {
		close(t.queue)
		t.wg.Wait()
	}
	out := targets[0].summary(*rate)
	if len(targets) > 1 {
		out["direct"] = targets[1].summary(*rate)
	}
	out["steal_pct"] = -1.0
	if d := after.total - before.total; before.total > 0 && d > 0 {
		out["steal_pct"] = 100 * float64(after.steal-before.steal) / float64(d)
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

type cpuTimes struct{ steal, total uint64 }

// readCPUTimes reads the machine's CPU time counters (all CPUs) from the
// first line of /proc/stat; zero when it cannot.
func readCPUTimes() cpuTimes {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuTimes{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return cpuTimes{}
	}
	var c cpuTimes
	for i, v := range f[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		if i < 8 { // user nice system idle iowait irq softirq steal; guest time is within user
			c.total += n
		}
		if i == 7 {
			c.steal = n
		}
	}
	return c
}

// A target is served by a fixed pool of keep-alive connections, each
// speaking HTTP/1.1 by hand: a load generator that allocates and hands
// work between goroutines per request (net/http's client) adds its own
// scheduling noise to the tail it measures. A request waits in the queue
// when every connection is busy, and its latency counts from its
// scheduled time all the same.
const conns = 32

type job struct {
	sched  time.Time
	warmup bool
}

func newTarget(rawURL string) *target {
	u, err := neturl.Parse(rawURL)
	if err != nil {
		panic(err)
	}
	t := &target{queue: make(chan job, 100000)}
	req := []byte("GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUser-Agent: proxyload\r\n\r\n")
	for range conns {
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			var c net.Conn
			var br *bufio.Reader
			for j := range t.queue {
				if c == nil {
					if c, err = net.Dial("tcp", u.Host); err != nil {
						t.add(0, err, j.warmup)
						c = nil
						continue
					}
					br = bufio.NewReader(c)
				}
				err := exchange(c, br, req)
				t.add(time.Since(j.sched), err, j.warmup)
				if err != nil {
					c.Close()
					c = nil
				}
			}
			if c != nil {
				c.Close()
			}
		}()
	}
	return t
}

// exchange sends req and reads a 200 response with a Content-Length.
func exchange(c net.Conn, br *bufio.Reader, req []byte) error {
	if _, err := c.Write(req); err != nil {
		return err
	}
	line, err := br.ReadSlice('\n')
	if err != nil {
		return err
	}
	if len(line) < 12 || string(line[9:12]) != "200" {
		return fmt.Errorf("status line %q", line)
	}
	length := -1
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		if len(line) > 16 && strings.EqualFold(string(line[:15]), "content-length:") {
			length, _ = strconv.Atoi(strings.TrimSpace(string(line[15:])))
		}
	}
	if length < 0 {
		return fmt.Errorf("no Content-Length")
	}
	_, err = br.Discard(length)
	return err
}

type target struct {
	queue chan job
	wg    sync.WaitGroup
	mu    sync.Mutex
	lat   []time.Duration
	errs  int
}

func (t *target) add(d time.Duration, err error, warmup bool) {
	if warmup {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.errs++
		return
	}
	t.lat = append(t.lat, d)
}

func (t *target) summary(rate int) map[string]any {
	slices.Sort(t.lat)
	pct := func(p float64) float64 {
		if len(t.lat) == 0 {
			return 0
		}
		return float64(t.lat[int(float64(len(t.lat)-1)*p)].Microseconds()) / 1000
	}
	return map[string]any{
		"requests": len(t.lat), "errors": t.errs, "rate": rate,
		"p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99), "max_ms": pct(1),
	}
}

// switchTime flips all traffic between the slots and measures, after the
// command returned, how long until the proxy answers from the new slot.
func switchTime(args []string) error {
	fs := flag.NewFlagSet("switch", flag.ExitOnError)
	bin := fs.String("deployctl", "deployctl", "binary")
	dir := fs.String("dir", ".", "project folder")
	url := fs.String("url", "", "proxy")
	runs := fs.Int("runs", 10, "switches")
	env := fs.String("env", "development", "environment")
	fs.Parse(args)
	c := client()
	var cmdMS, effectMS []float64
	for i := range *runs {
		slot, want := "green", "v2"
		if i%2 == 1 {
			slot, want = "blue", "v1"
		}
		t0 := time.Now()
		cmd := exec.Command(*bin, "-e", *env, "rollout", slot, "--weight", "100")
		cmd.Dir = *dir
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("rollout %s: %v: %s", slot, err, strings.TrimSpace(string(out)))
		}
		returned := time.Now()
		for {
			v, err := get(c, *url)
			if err == nil && v == want {
				break
			}
			if time.Since(returned) > 5*time.Second {
				return fmt.Errorf("the proxy still answers %q 5s after the command returned", v)
			}
		}
		cmdMS = append(cmdMS, ms(returned.Sub(t0)))
		effectMS = append(effectMS, ms(time.Since(returned)))
	}
	slices.Sort(cmdMS)
	slices.Sort(effectMS)
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"runs": *runs, "command_median_ms": cmdMS[len(cmdMS)/2], "command_max_ms": cmdMS[len(cmdMS)-1],
		"effect_median_ms": effectMS[len(effectMS)/2], "effect_max_ms": effectMS[len(effectMS)-1],
	})
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
