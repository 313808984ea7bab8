package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// build is stamped by the release build (-ldflags -X main.build=…).
var build = "dev"

// options are the flags, each defaulting to an environment variable so the
// app can run under docker-compose or a process manager unchanged.
type options struct {
	Listen          string
	VersionName     string
	Slot            string
	DatabaseURL     string
	DBTimeout       time.Duration
	ErrorRate       float64
	Delay           time.Duration
	ShutdownTimeout time.Duration
	PrintVersion    bool
}

func lookup(env []string, name string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

func or(v, def string) string {
	if v != "" {
		return v
	}
	return def
}

// parseOptions reads argv over the environment. An error is a usage error.
func parseOptions(args, env []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("demo-api", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := "127.0.0.1:3001"
	if p := lookup(env, "PORT"); p != "" {
		listen = "127.0.0.1:" + p
	}
	fs.StringVar(&o.Listen, "listen", or(lookup(env, "DEMO_API_LISTEN"), listen), "address to listen on ($DEMO_API_LISTEN, else 127.0.0.1:$PORT)")
	fs.StringVar(&o.VersionName, "version-name", or(lookup(env, "DEMO_API_VERSION"), "v1"), "version answered on / ($DEMO_API_VERSION)")
	fs.StringVar(&o.Slot, "slot", or(lookup(env, "DEMO_API_SLOT"), "blue"), "slot answered on / and used as metrics label ($DEMO_API_SLOT)")
	fs.StringVar(&o.DatabaseURL, "database-url", lookup(env, "DATABASE_URL"), "PostgreSQL URL checked by /health/readiness; none = always ready ($DATABASE_URL)")
	fs.DurationVar(&o.DBTimeout, "db-timeout", time.Second, "how long a readiness check waits for the database")
	fs.Float64Var(&o.ErrorRate, "error-rate", envFloat(env, "DEMO_API_ERROR_RATE"), "fraction of requests to / answered with 500, to demonstrate analysis gates ($DEMO_API_ERROR_RATE)")
	fs.DurationVar(&o.Delay, "delay", envDuration(env, "DEMO_API_DELAY"), "added latency on /, to demonstrate the P95 gate ($DEMO_API_DELAY)")
	fs.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long SIGTERM waits for requests in flight")
	fs.BoolVar(&o.PrintVersion, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return o, o.validate()
}

func (o *options) validate() error {
	if o.ErrorRate < 0 || o.ErrorRate > 1 {
		return fmt.Errorf("--error-rate %v must be between 0 and 1", o.ErrorRate)
	}
	if o.Delay < 0 || o.DBTimeout <= 0 {
		return errors.New("--delay must not be negative and --db-timeout must be positive")
	}
	return nil
}

func envFloat(env []string, name string) float64 {
	f, _ := strconv.ParseFloat(lookup(env, name), 64)
	return f
}

func envDuration(env []string, name string) time.Duration {
	d, _ := time.ParseDuration(lookup(env, name))
	return d
}
