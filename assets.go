// Package deployctl holds the project files `deployctl init` writes: the
// repository's own environments/ and templates/ folders, embedded, so that
// the binary and the repository share one source of truth.
package deployctl

import "embed"

// Assets holds environments/ (the variables schema and the three
// environment files) and templates/ (maintenance page, docker-compose file,
// Kubernetes manifests, and the example migration, .env.example and
// runbook that init places at the project's top level).
//
//go:embed environments templates
var Assets embed.FS
