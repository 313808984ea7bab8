package maintenance

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/deployctl/deployctl/pkg/provider"
)

func runEnv(t *testing.T) (*env, func(bool)) {
	v := newEnv(t)
	v.e.Now = time.Now // health waits use real time
	srv, ready := readyApp(t)
	v.e.Router = &httpRouter{weights: provider.Weights{provider.Blue: 100}, urls: map[provider.Slot]string{provider.Blue: srv.URL, provider.Green: "http://127.0.0.1:1"}}
	return v, ready.Store
}

func runReq(argv ...string) RunRequest {
	var out bytes.Buffer
	return RunRequest{OnRequest: OnRequest{Message: "migrating"}, Command: argv, Stdout: &out, Stderr: &out, HealthTimeout: 300 * time.Millisecond, HealthEvery: 20 * time.Millisecond}
}

func TestRunSuccessSwitchesOff(t *testing.T) {
	v, _ := runEnv(t)
	res, err := v.e.Run(t.Context(), runReq("sh", "-c", "exit 0"))
	if err != nil || res.StaysOn || res.Failed != "" || len(res.Health) != 1 || !res.Health[0].Ready {
		t.Fatalf("%+v %v", res, err)
	}
	if v.sw.st.On || v.sw.sets != 2 {
		t.Fatalf("switch %+v after %d sets", v.sw.st, v.sw.sets)
	}
	es := v.entries(t)
	if len(es) != 3 || es[2].Command != "maintenance run" || es[2].Result != "ok" {
		t.Fatalf("history %+v", es)
	}
}

func TestRunCommandFailureStaysOn(t *testing.T) {
	v, _ := runEnv(t)
	res, err := v.e.Run(t.Context(), runReq("sh", "-c", "echo broken >&2; exit 3"))
	if !errors.Is(err, ErrRunFailed) || res.ExitCode != 3 || res.Failed != "command" || !strings.Contains(err.Error(), "status 3") {
		t.Fatalf("%+v %v", res, err)
	}
	if !v.sw.st.On {
		t.Fatal("maintenance was switched off after a failed command")
	}
	if es := v.entries(t); es[len(es)-1].Result != "failed" {
		t.Fatalf("history %+v", es)
	}
}

func TestRunHealthFailureStaysOn(t *testing.T) {
	v, setReady := runEnv(t)
	setReady(false)
	res, err := v.e.Run(t.Context(), runReq("true"))
	if !errors.Is(err, ErrRunFailed) || res.Failed != "health" || !strings.Contains(err.Error(), "blue is not ready") {
		t.Fatalf("%+v %v", res, err)
	}
	if !v.sw.st.On {
		t.Fatal("maintenance was switched off after a failed health check")
	}
}

func TestRunWaitsForReadiness(t *testing.T) {
	v, setReady := runEnv(t)
	setReady(false)
	req := runReq("true")
	req.HealthTimeout = 10 * time.Second
	go func() { time.Sleep(100 * time.Millisecond); setReady(true) }()
	if _, err := v.e.Run(t.Context(), req); err != nil || v.sw.st.On {
		t.Fatalf("%v, on=%v", err, v.sw.st.On)
	}
}

func TestRunLeavesAnEarlierWindowOn(t *testing.T) {
	v, _ := runEnv(t)
	v.e.On(t.Context(), OnRequest{Message: "migrating"})
	res, err := v.e.Run(t.Context(), runReq("true"))
	if err != nil || !res.WasOn || !v.sw.st.On {
		t.Fatalf("%+v %v on=%v", res, err, v.sw.st.On)
	}
}

func TestRunRedactsPasswordsInHistory(t *testing.T) {
	v, _ := runEnv(t)
	res, _ := v.e.Run(t.Context(), runReq("true", "postgres://u:canary-pw-77@db/x"))
	if strings.Contains(res.Command, "canary-pw-77") {
		t.Fatalf("command %q", res.Command)
	}
	for _, e := range v.entries(t) {
		if strings.Contains(strings.Join([]string{e.Detail, string(mustJSON(e.After))}, ""), "canary-pw-77") {
			t.Fatalf("password in history: %+v", e)
		}
	}
}

func TestRunMissingCommand(t *testing.T) {
	v, _ := runEnv(t)
	_, err := v.e.Run(t.Context(), runReq("/nonexistent/tool"))
	if !errors.Is(err, ErrRunFailed) || !strings.Contains(err.Error(), "could not start") || !v.sw.st.On {
		t.Fatalf("%v", err)
	}
}
