// Package rollout is `deployctl rollout`: blue-green with weights — status,
// SLOT --weight N (or --steps with analysis), promote, abort, history.
package rollout

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/internal/ui"
	"github.com/deployctl/deployctl/pkg/provider"
	"github.com/deployctl/deployctl/pkg/rollout"
)

// ChangeOptions are the options of rollout SLOT, promote and abort.
type ChangeOptions struct {
	IO       *ui.IOStreams
	Factory  *app.Factory
	Op       rollout.Op
	Slot     provider.Slot
	Weight   int
	Steps    []int
	Interval time.Duration
	Image    string
	Timeout  time.Duration

	weight weightValue
}

// NewCmdRollout returns the rollout command group; `rollout SLOT` is the
// group's own verb.
func NewCmdRollout(f *app.Factory) *cobra.Command {
	cmd := NewCmdShift(f, nil)
	cmd.AddCommand(NewCmdStatus(f, nil), NewCmdPromote(f, nil), NewCmdAbort(f, nil), NewCmdHistory(f, nil))
	return cmd
}

// NewCmdShift returns `rollout SLOT --weight N`.
func NewCmdShift(f *app.Factory, runF func(*ChangeOptions) error) *cobra.Command {
	opts := &ChangeOptions{IO: f.IO, Factory: f, Op: rollout.OpWeight}
	opts.weight.n = &opts.Weight
	cmd := &cobra.Command{
		Use:     "rollout SLOT --weight N | --steps N,N,… [--interval D]",
		Short:   "Shift traffic between the blue and green slots",
		GroupID: "release",
		Long: `Give SLOT (blue or green) N percent of the traffic and the other slot the rest.
SLOT's readiness check (health.readiness_path) must pass first, otherwise
nothing changes (exit 1). The command returns once the data plane serves the new
weights, read back and compared. With --steps the weights are applied one after
the other; after each step the command waits --interval and judges SLOT's error
rate and P95 from Prometheus (the analysis section): a breach aborts at once
(traffic back to the active slot, exit 1); no data pauses at the current step
(exit 1), never counted as a pass.

Only one changing command (rollout, maintenance, restore) runs per environment at
a time; a second one exits 3 naming the holder of the lock.`,
		Example: `  deployctl rollout green --weight 10 --reason "v2 canary"
  deployctl rollout green --steps 10,50,100 --interval 2m
  deployctl rollout green --weight 50 --dry-run
  deployctl rollout green --weight 10 --image registry.example.com/api:1.4.2 --timeout 10m
  deployctl rollout status -o json`,
		Args: app.ExactArgs(1),
		ValidArgsFunction: func(_ *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
			var out []string
			for _, s := range provider.Slots {
				if len(args) == 0 && strings.HasPrefix(string(s), prefix) {
					out = append(out, string(s)+"\tgive the "+string(s)+" slot its share")
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Slot = provider.Slot(args[0])
			if err := opts.validateShift(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return changeRun(cmd.Context(), opts, "rollout "+strings.Join(args, " ")+flagLine(cmd))
		},
	}
	cmd.Flags().Var(&opts.weight, "weight", "percentage of the traffic for SLOT, 0 to 100")
	cmd.Flags().Var(&stepsValue{steps: &opts.Steps}, "steps", "weights for SLOT one after the other, with analysis between them (10,50,100)")
	cmd.Flags().DurationVar(&opts.Interval, "interval", 0, "wait between a step and its analysis (default analysis.interval)")
	cmd.Flags().StringVar(&opts.Image, "image", "", "first deploy IMG to SLOT (providers that run the slots, such as kubernetes)")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 5*time.Minute, "with --image: how long to wait for SLOT to get ready on it")
	return cmd
}

func (o *ChangeOptions) validateShift() error {
	if !o.Slot.Valid() {
		return app.Usagef("unknown slot %q: use blue or green", o.Slot)
	}
	switch {
	case !o.weight.set && len(o.Steps) == 0:
		return app.Usagef("give --weight N (0 to 100) or --steps N,N,… for %s", o.Slot)
	case o.weight.set && len(o.Steps) > 0:
		return app.Usagef("give either --weight or --steps, not both")
	case o.Interval < 0:
		return app.Usagef("invalid --interval %s", o.Interval)
	case o.Timeout <= 0:
		return app.Usagef("invalid --timeout %s: give a positive duration such as 5m", o.Timeout)
	case o.Interval > 0 && len(o.Steps) == 0:
		return app.Usagef("--interval goes with --steps")
	}
	return nil
}

// flagLine is the changed flags as typed, for the lock holder and history.
func flagLine(cmd *cobra.Command) string {
	var b strings.Builder
	cmd.LocalNonPersistentFlags().VisitAll(func(fl *pflagFlag) {
		if fl.Changed {
			fmt.Fprintf(&b, " --%s %s", fl.Name, fl.Value.String())
		}
	})
	return b.String()
}
