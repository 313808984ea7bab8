package rollout

import (
	"github.com/spf13/cobra"

	"github.com/deployctl/deployctl/internal/app"
	"github.com/deployctl/deployctl/pkg/rollout"
)

// NewCmdPromote returns `rollout promote`.
func NewCmdPromote(f *app.Factory, runF func(*ChangeOptions) error) *cobra.Command {
	opts := &ChangeOptions{IO: f.IO, Factory: f, Op: rollout.OpPromote}
	return &cobra.Command{
		Use:   "promote",
		Short: "Make the candidate slot active with 100% of the traffic",
		Long: `Give the candidate slot (the one a rollout sent traffic to) 100% and make it the
active slot. The old active slot keeps running as standby, ready for the next
release or a quick switch back. The candidate's readiness must pass first.`,
		Example: `  deployctl rollout promote --reason "v2 healthy for 30m"
  deployctl rollout promote --dry-run`,
		Args: app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return changeRun(cmd.Context(), opts, "rollout promote")
		},
	}
}

// NewCmdAbort returns `rollout abort`.
func NewCmdAbort(f *app.Factory, runF func(*ChangeOptions) error) *cobra.Command {
	opts := &ChangeOptions{IO: f.IO, Factory: f, Op: rollout.OpAbort}
	return &cobra.Command{
		Use:   "abort",
		Short: "Send all traffic back to the active slot at once",
		Long: `Send 100% of the traffic back to the active slot in one change and mark the
candidate as aborted. It does not wait for the candidate's readiness and runs
even when the active slot's readiness fails (with a note): it is the way back.`,
		Example: `  deployctl rollout abort --reason "error rate 4% on green"`,
		Args:    app.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return changeRun(cmd.Context(), opts, "rollout abort")
		},
	}
}
