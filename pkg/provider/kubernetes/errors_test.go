package kubernetes

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"syscall"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/deployctl/deployctl/pkg/provider"
)

func TestExplainSpeaksOperator(t *testing.T) {
	c := &Clients{Host: "https://k8s.example.com"}
	route := object{Kind: "HTTPRoute", Namespace: "api", Name: "web"}
	gr := schema.GroupResource{Group: "gateway.networking.k8s.io", Resource: "httproutes"}
	cases := []struct {
		err         error
		want        string
		is          error
		unreachable bool
	}{
		{apierrors.NewNotFound(gr, "web"), "HTTPRoute api/web not found; check the name", provider.ErrNotFound, false},
		{apierrors.NewForbidden(gr, "web", errors.New(`User "bob" cannot update resource "httproutes"`)), `the cluster refused to update HTTPRoute api/web: User "bob" cannot update resource "httproutes"; grant the Role in docs/kubernetes.md`, nil, false},
		{apierrors.NewConflict(gr, "web", errors.New("the object has been modified")), "HTTPRoute api/web kept changing while deployctl tried to update it", provider.ErrConflict, false},
		{apierrors.NewUnauthorized("token expired"), "the cluster rejected the credentials while trying to update HTTPRoute api/web; refresh your kubeconfig", nil, false},
		{apierrors.NewServiceUnavailable("etcd down"), "cannot reach the kubernetes API at https://k8s.example.com", nil, true},
		{&url.Error{Op: "Get", URL: "https://k8s.example.com", Err: syscall.ECONNREFUSED}, "cannot reach the kubernetes API at https://k8s.example.com", nil, true},
	}
	for _, tc := range cases {
		err := c.explain(tc.err, "update", route)
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("explain(%v) = %q, want it to contain %q", tc.err, err, tc.want)
		}
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("explain(%v) is not %v", tc.err, tc.is)
		}
		if got := errors.As(err, new(*provider.UnreachableError)); got != tc.unreachable {
			t.Errorf("explain(%v): unreachable = %v, want %v", tc.err, got, tc.unreachable)
		}
	}
	cancelled := &url.Error{Op: "Get", URL: "https://k8s.example.com", Err: context.Canceled}
	if err := c.explain(cancelled, "update", route); err != context.Canceled {
		t.Errorf("an interrupted request became %v", err)
	}
	plain := errors.New("HTTPRoute has no rule")
	if c.explain(plain, "update", route) != plain {
		t.Error("a refusal decided by deployctl was rewritten")
	}
}
