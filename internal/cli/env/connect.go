package env

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/deployctl/deployctl/pkg/envspec"
	"github.com/deployctl/deployctl/pkg/mail"
	"github.com/deployctl/deployctl/pkg/postgres"
	"github.com/deployctl/deployctl/pkg/provider"
)

// The statuses of a --connect check.
const (
	connOK          = "ok"
	connFailed      = "failed"      // the server answered no (bad login, no such database)
	connUnreachable = "unreachable" // nothing answered in time
	connSkipped     = "skipped"     // the variables it needs are not valid
)

// connection is the result of one --connect check. Target and Detail never
// hold a secret.
type connection struct {
	Name   string `json:"name"`
	Target string `json:"target"`
	Status string `json:"status"`
	Detail string `json:"detail"`
}

// The SMTP variables of the reference deployment (CLI.md).
var smtpVars = []string{"EMAIL_HOST", "EMAIL_PORT", "EMAIL_USER", "EMAIL_PASSWORD"}

// connectAll runs the database and SMTP checks concurrently.
func connectAll(ctx context.Context, r *resolved, rep *envspec.Report, timeout time.Duration) []connection {
	checks := []func(context.Context, *resolved, map[string]envspec.Result) connection{checkDatabase, checkSMTP}
	out := make([]connection, len(checks))
	status := map[string]envspec.Result{}
	for _, v := range rep.Variables {
		status[v.Name] = v
	}
	var wg sync.WaitGroup
	for i, check := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			c := check(cctx, r, status)
			c.Detail = scrub(c.Detail, r.secrets())
			out[i] = c
		}()
	}
	wg.Wait()
	return out
}

// notValid names the first of names whose value is not usable, if any.
func notValid(status map[string]envspec.Result, names ...string) string {
	for _, n := range names {
		if st, ok := status[n]; ok && st.Status != envspec.StatusOK {
			return fmt.Sprintf("%s is %s", n, st.Status)
		}
	}
	return ""
}

func checkDatabase(ctx context.Context, r *resolved, status map[string]envspec.Result) connection {
	name := r.cfg.Database.URLFrom
	if name == "" {
		name = "DATABASE_URL"
	}
	c := connection{Name: "database", Target: name}
	url, ok := r.value(name)
	if why := notValid(status, name); why != "" || !ok {
		if why == "" {
			why = name + " is not set"
		}
		c.Status, c.Detail = connSkipped, why
		return c
	}
	c.Target = postgres.Redact(url)
	conn, err := postgres.Connect(ctx, url)
	if err != nil {
		return failed(c, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	v, err := postgres.ServerVersion(ctx, conn)
	if err != nil {
		return failed(c, postgres.ConnectError(url, err))
	}
	c.Status, c.Detail = connOK, "PostgreSQL "+v
	return c
}

func checkSMTP(ctx context.Context, r *resolved, status map[string]envspec.Result) connection {
	c := connection{Name: "smtp", Target: "EMAIL_HOST:EMAIL_PORT"}
	host, ok := r.value("EMAIL_HOST")
	if why := notValid(status, smtpVars...); why != "" || !ok {
		if why == "" {
			why = "EMAIL_HOST is not set"
		}
		c.Status, c.Detail = connSkipped, why
		return c
	}
	portStr, _ := r.value("EMAIL_PORT")
	port, err := strconv.Atoi(portStr)
	if err != nil {
		c.Status, c.Detail = connSkipped, "EMAIL_PORT is not set"
		return c
	}
	user, _ := r.value("EMAIL_USER")
	password, _ := r.value("EMAIL_PASSWORD")
	c.Target = net.JoinHostPort(host, portStr)
	deadline, _ := ctx.Deadline()
	s := mail.Settings{Host: host, Port: port, User: user, Password: password, Timeout: time.Until(deadline)}
	if err := mail.Probe(ctx, s); err != nil {
		return failed(c, err)
	}
	c.Status, c.Detail = connOK, "EHLO ok"
	if user != "" {
		c.Detail = fmt.Sprintf("EHLO ok, login as %s accepted", user)
	}
	return c
}

func failed(c connection, err error) connection {
	var unreach *provider.UnreachableError
	c.Status, c.Detail = connFailed, err.Error()
	if errors.As(err, &unreach) || errors.Is(err, context.DeadlineExceeded) {
		c.Status = connUnreachable
	}
	return c
}
