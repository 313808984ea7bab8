package kubetest

// The Gateway API CRDs the test server installs come from this module's
// folder (config/crd/standard), found with `go list -m`; importing its API
// package keeps the module, at the version the provider speaks, in go.mod.
import _ "sigs.k8s.io/gateway-api/apis/v1"
