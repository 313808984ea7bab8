// Package e2e_test proves the analysis gate of `rollout --steps` end to end,
// the way an operator meets it: two demo-api slots behind `deployctl proxy`,
// a real Prometheus scraping them, real requests through the proxy, and the
// built deployctl binary.
package e2e_test
