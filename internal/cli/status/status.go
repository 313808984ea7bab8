// Package status is `deployctl status`: one screen of the environment —
// its providers, the traffic as the data plane serves it, each slot's
// health, maintenance and the lock — each read where it lives, and each
// said as unknown (with why) when it cannot be read, never guessed.
package status

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/cli/maintenance"
	"github.com/deployctl/deployctl/internal/cli/rollout"
	"github.com/deployctl/deployctl/internal/ui"
	pm "github.com/deployctl/deployctl/pkg/maintenance"
	"github.com/deployctl/deployctl/pkg/provider"
	pr "github.com/deployctl/deployctl/pkg/rollout"
)

// Options are the options of status.
type Options struct {
	IO      *ui.IOStreams
	Factory *app.Factory
}

// Report is the JSON of status: each part is null with its error when it
// could not be read.
type Report struct {
	Env              string     `json:"env"`
	Protected        bool       `json:"protected"`
	Providers        Providers  `json:"providers"`
	Traffic          *pr.Status `json:"traffic"`
	TrafficError     string     `json:"traffic_error,omitempty"`
	Maintenance      *pm.Status `json:"maintenance"`
	MaintenanceError string     `json:"maintenance_error,omitempty"`
}

// Providers names the provider of each part.
type Providers struct {
	Traffic string `json:"traffic"`
	Storage string `json:"backups"`
}

// NewCmdStatus returns the status command.
func NewCmdStatus(f *app.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Factory: f}
	return &cobra.Command{
		Use:     "status",
		Short:   "Show the environment on one screen: traffic, slots, data plane, maintenance, lock",
		GroupID: "operate",
		Long: `Show the environment on one screen: its providers, the active slot and the
weights as the data plane serves them, whether the data plane runs (the local
proxy: with the command that starts it when it does not), each slot's
readiness and version, maintenance, and who holds the lock. Nothing is
changed and no lock is taken. A part that cannot be read is shown as unknown
with the reason; the command still exits 0 unless the configuration is bad.`,
		Example: "  deployctl status\n  deployctl status -e production -o json",
		Args:    app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return run(cmd.Context(), opts)
		},
	}
}

func run(ctx context.Context, opts *Options) error {
	f := opts.Factory
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	rep := Report{Env: cfg.Env, Protected: cfg.Protected, Providers: Providers{Traffic: cfg.Traffic.Provider, Storage: f.StorageName()}}
	if rep.Traffic, err = rollout.ReadStatus(ctx, f); err != nil {
		rep.TrafficError = err.Error()
	}
	if ms, err := maintenance.ReadStatus(ctx, f); err != nil {
		rep.MaintenanceError = err.Error()
	} else {
		rep.Maintenance = &ms
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if f.Flags.JSON() {
		return opts.IO.JSON(rep)
	}
	render(opts.IO, rep)
	return nil
}

func render(io *ui.IOStreams, r Report) {
	w, th := io.Out, io.Theme()
	line := func(label, text string) { fmt.Fprintf(w, "%-12s %s\n", label, text) }
	env := r.Env
	if r.Protected {
		env += " (protected)"
	}
	line("environment", env)
	line("providers", fmt.Sprintf("traffic %s, backups %s", r.Providers.Traffic, r.Providers.Storage))
	if t := r.Traffic; t == nil {
		line("traffic", th.Status("unknown")+": "+r.TrafficError)
	} else {
		cand := ""
		if t.Candidate != "" {
			cand = fmt.Sprintf(", candidate %s", t.Candidate)
		}
		line("traffic", fmt.Sprintf("%s active%s; weights %s", t.Active, cand, t.Weights.String()))
		if dp := t.DataPlane; dp != nil {
			if dp.Up {
				line("data plane", th.Status("ok")+": "+dp.Detail)
			} else {
				line("data plane", fmt.Sprintf("%s: %s; start it: %s", th.Status("down"), dp.Detail, dp.Start))
			}
		}
		for _, s := range provider.Slots {
			h := t.Health[s]
			state := th.Status("not ready") + ": " + h.Detail
			if h.Ready {
				state = fmt.Sprintf("%s %s (%.1fms)", th.Status("ready"), dash(t.Versions[s]), h.LatencyMS)
			}
			line(string(s), fmt.Sprintf("%d%%, %s", t.Weights[s], state))
		}
		lock := "free"
		if h := t.Lock; h != nil {
			lock = fmt.Sprintf("held by %s (pid %d on %s, %q) since %s", h.Actor, h.PID, h.Host, h.Command, h.Since.Format(time.RFC3339))
		}
		line("lock", lock)
	}
	if m := r.Maintenance; m == nil {
		line("maintenance", th.Status("unknown")+": "+r.MaintenanceError)
	} else {
		state := th.Status("ok") + ": off"
		switch {
		case m.Active:
			state = th.Status("warn") + ": on, visitors get the maintenance page"
			if m.Remaining != "" {
				state += " for " + m.Remaining
			}
		case m.Expired:
			state = th.Status("expired") + " " + m.OverdueBy + " ago: run deployctl maintenance off"
		}
		for _, win := range m.Windows {
			if win.State == pm.StateUpcoming {
				state += fmt.Sprintf("; next window %s at %s", win.ID, win.Start.Format(time.RFC3339))
				break
			}
		}
		line("maintenance", state)
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
