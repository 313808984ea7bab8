//go:build tools

// Package kubectl pins a real kubectl, built only to compare start-up times
// in scripts/bench/startup.
package kubectl

import _ "k8s.io/kubernetes/cmd/kubectl"
