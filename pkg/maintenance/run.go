package maintenance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	"github.com/deployctl/deployctl/pkg/maintenance/page"
	"github.com/deployctl/deployctl/pkg/postgres"
	"github.com/deployctl/deployctl/pkg/provider"
)

// RunRequest is what `maintenance run` asks for.
type RunRequest struct {
	OnRequest
	Command []string
	// Validate is a shell command (sh -c) run after Command, before
	// switching off: the validation tests. Empty: none.
	Validate      string
	Stdin         io.Reader
	Stdout        io.Writer
	Stderr        io.Writer
	HealthTimeout time.Duration // how long the slots may take to become ready
	HealthEvery   time.Duration // between readiness probes; default 1s
}

// RunResult says how far run got.
type RunResult struct {
	Command  string `json:"command"` // redacted
	ExitCode int    `json:"exit_code"`
	// Validate is the validation command (redacted) and its exit status.
	Validate     string                `json:"validate,omitempty"`
	ValidateExit *int                  `json:"validate_exit_code,omitempty"`
	Health       []provider.SlotStatus `json:"health"`
	// Confirm is the final health check, after switching off.
	Confirm []provider.SlotStatus `json:"confirm,omitempty"`
	Failed  string                `json:"failed,omitempty"` // "command" | "validate" | "health" | "confirm" | ""
	StaysOn bool                  `json:"stays_on"`
	WasOn   bool                  `json:"was_on"` // on before run: left on at the end
	DryRun  bool                  `json:"dry_run,omitempty"`
}

// ErrRunFailed is returned when the command or the health check failed and
// maintenance stays on.
var ErrRunFailed = errors.New("maintenance stays on")

// Run switches maintenance on, runs the command, waits until every slot in
// service is ready, and switches off. The lock is held only while switching,
// so the command may itself take it (deployctl backup restore). When the
// command or the health check fails maintenance stays on and the error
// wraps ErrRunFailed. A window that was already on stays on.
func (e *Engine) Run(ctx context.Context, r RunRequest) (RunResult, error) {
	res := RunResult{Command: redactArgs(r.Command), DryRun: r.DryRun, StaysOn: true}
	if r.Validate != "" {
		res.Validate = redactArgs([]string{r.Validate})
	}
	if r.DryRun {
		return res, nil
	}
	ch, err := e.On(ctx, r.OnRequest)
	if err != nil {
		return res, err
	}
	res.WasOn = page.Active(ch.Before, e.now())
	e.logf("maintenance on; running %s", res.Command)
	res.ExitCode, err = e.runCommand(ctx, r, r.Command)
	switch {
	case err != nil:
		res.Failed = "command"
	case r.Validate != "":
		e.logf("running the validation tests: %s", res.Validate)
		code, verr := e.runCommand(ctx, r, []string{"sh", "-c", r.Validate})
		res.ValidateExit = &code
		if verr != nil {
			res.Failed, err = "validate", fmt.Errorf("the validation tests (%s) failed: %w", res.Validate, verr)
		}
	}
	if err == nil {
		res.Health, err = e.waitHealthy(ctx, r)
		if err != nil {
			res.Failed = "health"
		}
	}
	if err != nil {
		e.record(context.WithoutCancel(ctx), historyEntry("maintenance run", nil, res, err))
		return res, fmt.Errorf("%w: %w", ErrRunFailed, err)
	}
	if !res.WasOn {
		if _, err := e.Off(ctx, false); err != nil {
			return res, fmt.Errorf("the command and health check passed, but switching off failed: %w", err)
		}
		res.StaysOn = false
		if err := e.confirm(ctx, &res); err != nil {
			return res, err
		}
	}
	e.record(context.WithoutCancel(ctx), historyEntry("maintenance run", nil, res, nil))
	return res, nil
}

// confirm is the final health check (step 6 of the reference procedure):
// with maintenance off, every slot in service must still be ready.
func (e *Engine) confirm(ctx context.Context, res *RunResult) error {
	if e.Router == nil {
		return nil
	}
	var err error
	if res.Confirm, err = e.probe(ctx); err != nil {
		res.Failed = "confirm"
		err = fmt.Errorf("maintenance is off, but the final health check failed: %w", err)
		e.record(context.WithoutCancel(ctx), historyEntry("maintenance run", nil, res, err))
	}
	return err
}

func (e *Engine) runCommand(ctx context.Context, r RunRequest, args []string) (int, error) {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = r.Stdin, r.Stdout, r.Stderr
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case ctx.Err() != nil:
		return -1, fmt.Errorf("the command was interrupted: %w", ctx.Err())
	case errors.As(err, &exit):
		return exit.ExitCode(), fmt.Errorf("the command exited with status %d", exit.ExitCode())
	}
	return -1, fmt.Errorf("the command could not start: %v", err)
}

// waitHealthy probes every slot that receives traffic until all are ready.
func (e *Engine) waitHealthy(ctx context.Context, r RunRequest) ([]provider.SlotStatus, error) {
	if e.Router == nil {
		return nil, nil
	}
	every := r.HealthEvery
	if every <= 0 {
		every = time.Second
	}
	deadline := e.Now().Add(r.HealthTimeout)
	for {
		sts, err := e.probe(ctx)
		if err == nil || !e.Now().Before(deadline) {
			return sts, err
		}
		select {
		case <-ctx.Done():
			return sts, fmt.Errorf("the health check was interrupted: %w", ctx.Err())
		case <-time.After(every):
		}
	}
}

func (e *Engine) probe(ctx context.Context) ([]provider.SlotStatus, error) {
	w, err := e.Router.Weights(ctx)
	if err != nil {
		return nil, fmt.Errorf("the health check could not read the weights: %w", err)
	}
	var out []provider.SlotStatus
	var bad []string
	for _, s := range provider.Slots {
		if w[s] == 0 {
			continue
		}
		st, err := e.Router.Slot(ctx, s)
		if err != nil {
			st = provider.SlotStatus{Slot: s, Detail: err.Error()}
		}
		out = append(out, st)
		if !st.Ready {
			bad = append(bad, fmt.Sprintf("%s is not ready (%s)", s, st.Detail))
		}
	}
	if len(bad) > 0 {
		return out, fmt.Errorf("the health check failed: %s", strings.Join(bad, "; "))
	}
	return out, nil
}

// redactArgs joins the command for people and history, without passwords
// in URLs or keyword strings.
func redactArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if postgres.Password(a) != "" {
			out[i] = postgres.Redact(a)
		}
	}
	return strings.Join(out, " ")
}
