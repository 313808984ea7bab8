package maintenance

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deployctl/deployctl/pkg/provider"
)

func TestRunValidateFailureStaysOn(t *testing.T) {
	v, _ := runEnv(t)
	req := runReq("true")
	req.Validate = "echo 2 tests failed >&2; exit 5"
	res, err := v.e.Run(t.Context(), req)
	if !errors.Is(err, ErrRunFailed) || res.Failed != "validate" || res.ValidateExit == nil || *res.ValidateExit != 5 || !res.StaysOn {
		t.Fatalf("%+v %v", res, err)
	}
	if !strings.Contains(err.Error(), "the validation tests (echo 2 tests failed >&2; exit 5) failed: the command exited with status 5") {
		t.Errorf("error: %v", err)
	}
	if !v.sw.st.On || res.Health != nil {
		t.Fatalf("switched off (%v) or health checked (%v) after failed validation", !v.sw.st.On, res.Health)
	}
	es := v.entries(t)
	if last := es[len(es)-1]; last.Result != "failed" || !strings.Contains(string(mustJSON(last.After)), `"validate_exit_code":5`) {
		t.Fatalf("history %+v", last)
	}
}

func TestRunValidatePassesAfterTheCommandThenSwitchesOffAndConfirms(t *testing.T) {
	v, _ := runEnv(t)
	dir := t.TempDir()
	req := runReq("sh", "-c", "touch "+filepath.Join(dir, "migrated"))
	req.Validate = "test -e " + filepath.Join(dir, "migrated") // fails if run before the command
	res, err := v.e.Run(t.Context(), req)
	if err != nil || res.Failed != "" || *res.ValidateExit != 0 || res.StaysOn || v.sw.st.On {
		t.Fatalf("%+v %v", res, err)
	}
	if len(res.Confirm) != 1 || !res.Confirm[0].Ready {
		t.Fatalf("final health check: %+v", res.Confirm)
	}
	es := v.entries(t)
	if last := string(mustJSON(es[len(es)-1].After)); !strings.Contains(last, `"confirm":[`) || !strings.Contains(last, `"validate_exit_code":0`) {
		t.Fatalf("history %s", last)
	}
	if _, err := os.Stat(filepath.Join(dir, "migrated")); err != nil {
		t.Fatal(err)
	}
}

// offBreaks makes the slot unready when maintenance goes off, as an
// application that only fails under real traffic would.
type offBreaks struct {
	*memSwitch
	setReady func(bool)
}

func (o offBreaks) SetMaintenance(ctx context.Context, st provider.MaintenanceState) error {
	if !st.On {
		o.setReady(false)
	}
	return o.memSwitch.SetMaintenance(ctx, st)
}

func TestRunFinalHealthCheckFailureSaysMaintenanceIsOff(t *testing.T) {
	v, setReady := runEnv(t)
	v.e.Switch = offBreaks{v.sw, setReady}
	res, err := v.e.Run(t.Context(), runReq("true"))
	if err == nil || errors.Is(err, ErrRunFailed) || res.Failed != "confirm" || v.sw.st.On {
		t.Fatalf("%+v %v", res, err)
	}
	if !strings.Contains(err.Error(), "maintenance is off, but the final health check failed: the health check failed: blue is not ready") {
		t.Errorf("error: %v", err)
	}
	es := v.entries(t)
	if last := es[len(es)-1]; last.Command != "maintenance run" || last.Result != "failed" {
		t.Fatalf("history %+v", last)
	}
}
