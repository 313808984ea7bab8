package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/deployctl/deployctl/pkg/provider"
)

// object names an API object for messages: "HTTPRoute staging/api".
type object struct {
	Kind, Namespace, Name string
}

func (o object) String() string {
	if o.Namespace == "" {
		return o.Kind + " " + o.Name
	}
	return o.Kind + " " + o.Namespace + "/" + o.Name
}

// explain turns an API error into a message for operators, naming the object
// and what to do. Errors that are not answers from the API server (refused
// connections, timeouts, TLS failures) mean the cluster is unreachable: exit 4.
func (c *Clients) explain(err error, verb string, o object) error {
	if err == nil {
		return nil
	}
	var (
		status apierrors.APIStatus
		urlErr *url.Error
		netErr net.Error
	)
	if errors.As(err, &urlErr) && (urlErr.Err == context.Canceled || urlErr.Err == context.DeadlineExceeded) {
		return urlErr.Err // the caller gave up: interrupted, or its own --timeout
	}
	if err == context.Canceled || err == context.DeadlineExceeded {
		return err
	}
	if c.ExecPlugin != "" && strings.Contains(err.Error(), "getting credentials") {
		// The plugin prints its own reason (an expired SSO session, …) on
		// stderr, which reaches the operator's terminal directly.
		return provider.Unreachable(fmt.Sprintf("kubernetes API at %s: its kubeconfig credential plugin `%s` failed", c.Host, c.ExecPlugin),
			fmt.Errorf("%v; run the plugin by hand to see why and refresh the credentials (e.g. `aws sso login`), then try again", credentialCause(err)))
	}
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%s not found; check the name in the environment file (traffic.kubernetes) or create it (deployctl render writes the manifests): %w", o, provider.ErrNotFound)
	case apierrors.IsForbidden(err):
		msg := err.Error()
		if i := strings.Index(msg, "forbidden: "); i >= 0 {
			msg = msg[i+len("forbidden: "):]
		}
		return fmt.Errorf("the cluster refused to %s %s: %s; grant the Role in docs/kubernetes.md to this user", verb, o, msg)
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("the cluster rejected the credentials while trying to %s %s; refresh your kubeconfig (kubectl config view) and try again", verb, o)
	case apierrors.IsConflict(err):
		return fmt.Errorf("%s kept changing while deployctl tried to %s it (somebody else is writing it); try again: %w", o, verb, provider.ErrConflict)
	case apierrors.IsInvalid(err):
		return fmt.Errorf("the cluster refused the change to %s: %v", o, err)
	case apierrors.IsServiceUnavailable(err), apierrors.IsServerTimeout(err), apierrors.IsTimeout(err), apierrors.IsTooManyRequests(err):
		return provider.Unreachable(fmt.Sprintf("kubernetes API at %s", c.Host), err)
	case errors.As(err, &status):
		return fmt.Errorf("%s %s: %w", verb, o, err)
	case errors.As(err, &urlErr):
		// The request URL adds nothing for an operator; the cause does. A
		// client timeout (not the caller's deadline) means no answer: exit 4.
		return provider.Unreachable(fmt.Sprintf("kubernetes API at %s", c.Host), urlErr.Err)
	case errors.As(err, &netErr):
		return provider.Unreachable(fmt.Sprintf("kubernetes API at %s", c.Host), err)
	}
	return err
}

// credentialCause is the plugin's failure without client-go's wrapping.
func credentialCause(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr.Err
	}
	return err
}

func isNotFound(err error) bool { return errors.Is(err, provider.ErrNotFound) }
