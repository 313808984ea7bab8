// Command proxyload is the load generator of scripts/bench/proxy:
//
//	proxyload upstream -listen ADDR -name v1 [-delay 2ms]
//	                                              a minimal slot answering {"version":NAME}
//	proxyload latency -url URL -rate 1000 -duration 10s
//	                                              open-loop load at a fixed rate; latency percentiles as JSON
//	proxyload switch -deployctl BIN -dir DIR -url URL -runs 10
//	                                              time from `rollout SLOT --weight 100` returning to the
//	                                              proxy answering with the new slot, as JSON
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
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
// loop), so a slow proxy shows in the percentiles instead of lowering the rate.
func latency(args []string) error {
	fs := flag.NewFlagSet("latency", flag.ExitOnError)
	url := fs.String("url", "", "target")
	rate := fs.Int("rate", 1000, "requests per second")
	dur := fs.Duration("duration", 10*time.Second, "how long")
	warm := fs.Duration("warmup", 2*time.Second, "load before measuring")
	fs.Parse(args)
	c := client()
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	var wg sync.WaitGroup
	interval := time.Second / time.Duration(*rate)
	start := time.Now()
	measureFrom := start.Add(*warm)
	for next := start; next.Before(start.Add(*warm + *dur)); next = next.Add(interval) {
		time.Sleep(time.Until(next))
		wg.Add(1)
		go func(sched time.Time) {
			defer wg.Done()
			_, err := get(c, *url)
			d := time.Since(sched) // from the scheduled time: no coordinated omission
			if sched.Before(measureFrom) {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs++
				return
			}
			lat = append(lat, d)
		}(next)
	}
	wg.Wait()
	slices.Sort(lat)
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[int(float64(len(lat)-1)*p)].Microseconds()) / 1000
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"requests": len(lat), "errors": errs, "rate": *rate,
		"p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99), "max_ms": pct(1),
	})
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
