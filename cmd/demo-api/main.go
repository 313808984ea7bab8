// Command demo-api is the tiny web application of deployctl's demo and
// tests: it answers its version on /, its liveness on /health, its
// readiness on /health/readiness (503 while its database is unreachable)
// and Prometheus metrics on /metrics. Run two of them as the blue and green
// slots:
//
//	demo-api --listen 127.0.0.1:3001 --version-name v1 --slot blue
//	demo-api --listen 127.0.0.1:3002 --version-name v2 --slot green
package main

import (
	"os"
)

func main() { os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr)) }
