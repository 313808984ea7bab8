package provider

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrUnsupported is returned for an ability a provider family lacks.
	ErrUnsupported = errors.New("not supported by this provider")
	// ErrNotFound is returned by stores for a missing key or object.
	ErrNotFound = errors.New("not found")
	// ErrConflict is returned by StateStore.Save when the version moved on.
	ErrConflict = errors.New("changed by somebody else meanwhile")
)

// LockedError says that another operator holds the environment's lock.
// The CLI maps it to exit code 3.
type LockedError struct {
	Holder Holder
}

func (e *LockedError) Error() string {
	h := e.Holder
	msg := fmt.Sprintf("the environment is locked by %s (pid %d on %s, running %q) since %s",
		h.Actor, h.PID, h.Host, h.Command, h.Since.UTC().Format(time.RFC3339))
	if h.Reason != "" {
		msg += fmt.Sprintf(", reason: %q", h.Reason)
	}
	return msg + "; wait for it to finish, or ask them"
}

// UnreachableError says a dependency (database, cluster, bucket,
// Prometheus, SMTP) could not be reached. The CLI maps it to exit code 4.
// Err must never carry a secret.
type UnreachableError struct {
	What string // "database", "kubernetes API", "s3 bucket backups", …
	Err  error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the %s: %v", e.What, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// Unreachable wraps err as an *UnreachableError for what.
func Unreachable(what string, err error) error {
	return &UnreachableError{What: what, Err: err}
}

// ConfigError is a provider setting that is missing or unusable: the
// operator fixes the environment file or the provider's own environment
// (AWS_REGION, a kubeconfig); retrying cannot help. The CLI maps it to exit
// code 2.
type ConfigError struct {
	Msg string
	Err error // the underlying library's error, if any
}

func (e *ConfigError) Error() string {
	if e.Err == nil {
		return e.Msg
	}
	return e.Msg + ": " + e.Err.Error()
}

func (e *ConfigError) Unwrap() error { return e.Err }
