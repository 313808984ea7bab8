//go:build tools

// Package k8s pins the test servers that scripts/k8s/build compiles.
package k8s

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
