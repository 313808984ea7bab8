// Package health is `deployctl health`: liveness and readiness of each slot.
package health

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/provider"
)

// Options are the options of health.
type Options struct {
	IO      *ui.IOStreams
	Factory *app.Factory
	Slot    string
}

// SlotJSON is one slot in `health -o json`.
type SlotJSON struct {
	Slot      provider.Slot `json:"slot"`
	Live      *bool         `json:"live"` // null when the provider has no liveness probe
	Ready     bool          `json:"ready"`
	Version   string        `json:"version,omitempty"`
	LatencyMS float64       `json:"latency_ms"`
	Detail    string        `json:"detail,omitempty"`
}

// Report is `health -o json`.
type Report struct {
	Env   string     `json:"env"`
	OK    bool       `json:"ok"`
	Slots []SlotJSON `json:"slots"`
}

// liveness is a router that can probe liveness too (the local proxy's).
type liveness interface {
	Liveness(ctx context.Context, s provider.Slot) (provider.SlotStatus, error)
}

// NewCmdHealth returns the health command.
func NewCmdHealth(f *app.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IO, Factory: f}
	cmd := &cobra.Command{
		Use:     "health [--slot blue|green]",
		Short:   "Probe the liveness and readiness of each slot, with latency",
		GroupID: "operate",
		Long: `Probe health.path (liveness) and health.readiness_path (readiness) of each slot,
or of --slot only, with health.timeout, and show the result with the latency and
the version the slot reports. Exit 1 when a probed slot is not live or not ready.`,
		Example: `  deployctl health
  deployctl health --slot green -o json`,
		Args: app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Slot != "" && !provider.Slot(opts.Slot).Valid() {
				return app.Usagef("unknown slot %q: use blue or green", opts.Slot)
			}
			if runF != nil {
				return runF(opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Slot, "slot", "", "probe only this slot (blue or green)")
	return cmd
}

func run(ctx context.Context, opts *Options) error {
	f := opts.Factory
	cfg, err := f.Config()
	if err != nil {
		return err
	}
	router, err := f.Traffic(ctx)
	if err != nil {
		return err
	}
	slots := provider.Slots
	if opts.Slot != "" {
		slots = []provider.Slot{provider.Slot(opts.Slot)}
	}
	rep := Report{Env: cfg.Env, OK: true}
	for _, s := range slots {
		sj, err := probe(ctx, router, s)
		if err != nil {
			return err
		}
		rep.OK = rep.OK && sj.Ready && (sj.Live == nil || *sj.Live)
		rep.Slots = append(rep.Slots, sj)
	}
	if f.Flags.JSON() {
		if err := opts.IO.JSON(rep); err != nil {
			return err
		}
	} else {
		render(opts.IO, rep)
	}
	if !rep.OK {
		return app.ErrFailed
	}
	return nil
}

func probe(ctx context.Context, router provider.TrafficRouter, s provider.Slot) (SlotJSON, error) {
	sj := SlotJSON{Slot: s}
	if lp, ok := router.(liveness); ok {
		l, err := lp.Liveness(ctx, s)
		if err != nil {
			return sj, err
		}
		sj.Live = &l.Ready
		if !l.Ready {
			sj.Detail = l.Detail
		}
	}
	r, err := router.Slot(ctx, s)
	if err != nil {
		return sj, err
	}
	sj.Ready, sj.Version, sj.LatencyMS = r.Ready, r.Version, float64(r.Latency.Microseconds())/1000
	if sj.Detail == "" {
		sj.Detail = r.Detail
	}
	return sj, nil
}

func render(io *ui.IOStreams, rep Report) {
	th := io.Theme()
	t := io.NewTable("SLOT", "LIVE", "READY", "VERSION", "LATENCY", "DETAIL")
	for _, s := range rep.Slots {
		live := "-"
		if s.Live != nil {
			live = th.Status(yesNo(*s.Live))
		}
		version := s.Version
		if version == "" {
			version = "-"
		}
		t.Row(string(s.Slot), live, th.Status(yesNo(s.Ready)), version, fmt.Sprintf("%.1fms", s.LatencyMS), s.Detail)
	}
	t.Render(io.Out)
}

func yesNo(b bool) string {
	if b {
		return "ok"
	}
	return "fail"
}
